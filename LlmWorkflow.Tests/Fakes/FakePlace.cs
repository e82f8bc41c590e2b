namespace LlmWorkflow.Tests.Fakes;

/// <summary>A place the fake Google Places server returns.</summary>
public sealed record FakePlace(string Name, string Address, double Latitude, double Longitude, double? Rating = null, params string[] Types)
{
    public string PlaceId { get; init; } = "place-" + Name.ToLowerInvariant().Replace(' ', '-');
}
