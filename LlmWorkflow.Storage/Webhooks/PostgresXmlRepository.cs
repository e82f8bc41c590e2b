using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using LlmWorkflow.Storage.Jobs;
using Npgsql;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// Data Protection's key ring in <c>llm_data_protection_keys</c>, so every API and Worker instance reads the keys
/// any of them created. Data Protection calls this synchronously and caches the ring, so the calls are rare.
/// </summary>
internal sealed class PostgresXmlRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    // No parameters.
    private const string AllKeysSql = "SELECT xml FROM llm_data_protection_keys ORDER BY id";

    // $1 friendly name, $2 the key's XML.
    private const string StoreKeySql = "INSERT INTO llm_data_protection_keys (friendly_name, xml) VALUES ($1, $2)";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand(AllKeysSql);
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.Field<string>("xml")));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = dataSource.CreateCommand(StoreKeySql);
        command.Parameters.Add(new NpgsqlParameter { Value = friendlyName });
        command.Parameters.Add(new NpgsqlParameter { Value = element.ToString(SaveOptions.DisableFormatting) });
        command.ExecuteNonQuery();
    }
}
