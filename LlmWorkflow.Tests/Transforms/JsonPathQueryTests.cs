using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Transforms;

/// <summary>
/// Document 000's <c>extract_fields</c> "with JSONPath support": recursive descent and filters, run by Json.NET's
/// SelectTokens, each yielding the array of its matches; a malformed query is a validation problem where it is.
/// </summary>
[UnitTest]
public sealed class JsonPathQueryTests
{
    private const string Search = """
        {"status": "OK", "results": [
          {"name": "General Hospital", "rating": 3.9, "opening_hours": {"open_now": true}, "geometry": {"location": {"lat": 37.7557}}},
          {"name": "Mission Bay", "rating": 4.3, "opening_hours": {"open_now": false}, "geometry": {"location": {"lat": 37.7669}}},
          {"name": "Fire Station 7", "rating": 4.7, "updated": "2026-11-27T10:00:00Z", "geometry": {"location": {"lat": 37.7605}}}
        ]}
        """;

    [Fact]
    public void RecursiveDescentCollectsEveryMatchInDocumentOrder() =>
        Assert.Equal(
            """{"names":["General Hospital","Mission Bay","Fire Station 7"],"lats":[37.7557,37.7669,37.7605]}""",
            TransformRunner.RunJson("""{"operation": "extract_fields", "input": "${input}", "fields": {"names": "$..name", "lats": "$..lat"}}""", Search));

    [Fact]
    public void FiltersSelectTheItemsThatMatch() =>
        Assert.Equal(
            """{"good":["Mission Bay","Fire Station 7"],"open":["General Hospital"],"dated":["2026-11-27T10:00:00Z"]}""",
            TransformRunner.RunJson("""
                {"operation": "extract_fields", "input": "${input}", "fields": {
                  "good": "results[?(@.rating >= 4)].name",
                  "open": "$.results[?(@.opening_hours.open_now == true)].name",
                  "dated": "$..updated"}}
                """, Search));

    [Fact]
    public void AQueryWithoutMatchesYieldsAnEmptyArrayAndPlainPathsStayAsTheyWere() =>
        Assert.Equal(
            """{"none":[],"status":"OK"}""",
            TransformRunner.RunJson("""{"operation": "extract_fields", "input": "${input}", "fields": {"none": "$..phone", "status": "status"}}""", Search));

    [Fact]
    public void AMalformedQueryIsAProblemOfItsField()
    {
        var problem = Assert.Single(TransformRunner.Problems("""{"operation": "extract_fields", "input": "${input}", "fields": {"x": "results[?(@.rating >"}}"""));
        Assert.Equal("$.fields.x", problem.JsonPath);
        Assert.Contains("JSONPath", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EachItemOfAnArrayInputIsQueriedOnItsOwn() =>
        Assert.Equal(
            """[{"lat":[37.7557]},{"lat":[37.7669]},{"lat":[37.7605]}]""",
            TransformRunner.RunJson("""{"operation": "extract_fields", "input": "${input.results}", "fields": {"lat": "$..lat"}}""", Search));
}
