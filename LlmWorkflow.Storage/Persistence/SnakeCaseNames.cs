using System.Text;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Storage.Persistence;

/// <summary>Maps every property not named by its configuration to a snake_case column (EFCore.NamingConventions is not in our registry).</summary>
internal static class SnakeCaseNames
{
    public static void Apply(ModelBuilder modelBuilder)
    {
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            // A name a configuration gave (HasColumnName: a column kept under its old name) stays.
            foreach (var property in entity.GetProperties().Where(p => p.FindAnnotation(Microsoft.EntityFrameworkCore.Metadata.RelationalAnnotationNames.ColumnName) is null))
            {
                property.SetColumnName(ToSnakeCase(property.Name));
            }
        }
    }

    public static string ToSnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]))))
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
