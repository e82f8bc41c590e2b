using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests.Transforms;

[UnitTest]
public sealed class MarkdownToJsonTransformTests
{
    private const string EmergencyConfig = """
        {"operation": "markdown_to_json", "input": "${input}", "key_style": "camel",
         "sections": {"contacts": "Emergency Contacts", "meetingLocations": {"heading": "Meeting Locations", "required": true},
                      "quickReference": "Quick Reference", "notes": {"heading": "Additional Notes", "format": "text"}, "weather": "Weather Alerts"}}
        """;

    [Fact]
    public void EmergencyContactsAnswerBecomesContactsAndMeetingLocations()
    {
        var result = TransformRunner.Run(EmergencyConfig, JsonValue.Create(SampleAnswers.EmergencyContacts))!;

        var contacts = result["contacts"]!.AsArray();
        Assert.Equal(4, contacts.Count);
        Assert.Equal(
            """{"name":"San Francisco Fire Department – Station 1","phone":"(415) 558-3200","address":"935 Folsom St, San Francisco, CA 94107","category":"fire","priority":"critical","fitScore":"95","available247":"Yes","reasoning":"Closest fire station; first responder for structural collapse and gas leaks after a quake."}""",
            TransformRunner.Json(contacts[0]));
        Assert.Equal("PG&E Gas Emergency Line", contacts[2]!["name"]!.GetValue<string>());
        Assert.Equal("1-800-743-5000", contacts[2]!["phone"]!.GetValue<string>());
        Assert.Equal("80", contacts[2]!["fitScore"]!.GetValue<string>());

        var locations = result["meetingLocations"]!.AsArray();
        Assert.Equal(["Primary: Dolores Park (north end)", "Secondary: Mission Branch Library"], locations.Select(l => l!["name"]!.GetValue<string>()));
        Assert.Equal("Meet at the tennis courts; 10-minute walk from home.", locations[0]!["practicalDetails"]!.GetValue<string>());

        Assert.Equal("""[{"service":"Emergency","number":"911","whenToCall":"Life-threatening danger"},{"service":"Non-emergency police","number":"(415) 553-0123","whenToCall":"Reports, welfare checks"}]""",
            result["quickReference"]!.ToJsonString());
        Assert.StartsWith("Keep a printed copy", result["notes"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(result.AsObject().ContainsKey("weather"));
        Assert.Null(result["weather"]);
    }

    [Fact]
    public void RequiredSectionMissingIsAParseError()
    {
        var error = TransformRunner.Fail(EmergencyConfig, JsonValue.Create("# Sorry\nI can't help with that."));
        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal("parse_error", error.Type);
        Assert.Contains("section 'Meeting Locations' not found", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Sorry'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ListStyleAnswerBecomesNamedEntries()
    {
        const string answer = """
            ## Emergency Contacts
            1. **SF Police Department** - non-emergency line
               - Phone: (415) 553-0123
               - **Priority:** important
            2. **Poison Control**
               - **Phone:** 1-800-222-1222
            3. Red Cross shelter hotline

            ## Meeting Locations
            - Dolores Park
            - Mission Library
            """;
        var result = TransformRunner.Run("""{"operation": "markdown_to_json", "input": "${input}", "sections": {"contacts": "emergency contacts", "places": "meeting locations"}}""", JsonValue.Create(answer))!;
        Assert.Equal(
            """[{"name":"SF Police Department","phone":"(415) 553-0123","priority":"important","text":"non-emergency line"},{"name":"Poison Control","phone":"1-800-222-1222"},{"name":"Red Cross shelter hotline"}]""",
            result["contacts"]!.ToJsonString());
        Assert.Equal("""["Dolores Park","Mission Library"]""", result["places"]!.ToJsonString());
    }

    [Fact]
    public void MissionPlanSplitsByH2IntoNamedSections()
    {
        var result = TransformRunner.Run("""{"operation": "markdown_to_json", "input": "${input}", "split_level": 2}""", JsonValue.Create(SampleAnswers.MissionPlan))!.AsObject();
        Assert.Equal(["executive_summary", "risk_assessment", "recommended_bundles", "survival_skills", "day_by_day_simulation", "next_steps"], result.Select(p => p.Key));
        Assert.StartsWith("Your family of 4 in San Francisco faces a **high** earthquake risk.", result["executive_summary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("### Day 1\nCheck injuries and hazards.\n### Day 2\nRation water.", result["day_by_day_simulation"]!.GetValue<string>().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void MissionPlanSectionsCanBeRenamedAndStructured()
    {
        var result = TransformRunner.Run("""
            {"operation": "markdown_to_json", "input": "${input}",
             "sections": {"day_by_day": {"heading": "Day-by-Day", "format": "items"}, "risk_assessment": {"heading": "Risk Assessment", "format": "tree"},
                          "recommended_bundles": "Recommended Bundles"}}
            """, JsonValue.Create(SampleAnswers.MissionPlan))!;
        Assert.Equal("""[{"name":"Day 1","text":"Check injuries and hazards."},{"name":"Day 2","text":"Ration water."}]""", result["day_by_day"]!.ToJsonString());
        Assert.Equal("""{"heading":"⚠️ Risk Assessment","level":2,"items":[{"overall_risk":"High"},{"primary_threat":"Ground shaking and fires"},"Aftershocks for several days"]}""",
            TransformRunner.Json(result["risk_assessment"]));
        Assert.Equal("""[{"name":"72-Hour Family Kit","text":"water, food and first aid for four"},{"name":"Quake Shelter Bundle","text":"tent, tarps and sleeping bags"}]""",
            result["recommended_bundles"]!.ToJsonString());
    }

    [Fact]
    public void WholeDocumentBecomesASectionTree()
    {
        const string markdown = """
            Intro line.
            **Author:** Ada

            # Plan
            ## Water
            - 3 gallons per person
            ## Food
            Canned goods.
            """;
        Assert.Equal(
            """{"text":"Intro line.","properties":{"author":"Ada"},"sections":[{"heading":"Plan","level":1,"sections":[{"heading":"Water","level":2,"items":["3 gallons per person"]},{"heading":"Food","level":2,"text":"Canned goods."}]}]}""",
            TransformRunner.RunText("""{"operation": "markdown_to_json", "input": "${input}"}""", markdown));
    }

    [Fact]
    public void EmptyMarkdownGivesEmptyResults()
    {
        Assert.Equal("{}", TransformRunner.RunText("""{"operation": "markdown_to_json", "input": "${input}"}""", ""));
        Assert.Equal("{}", TransformRunner.RunText("""{"operation": "markdown_to_json", "input": "${input}", "split_level": 2}""", ""));
        Assert.Equal("invalid_input", TransformRunner.Fail("""{"operation": "markdown_to_json", "input": "${input}"}""", null).Type);
    }
}
