namespace LlmWorkflow.Tests.Transforms;

/// <summary>Realistic LLM answers, as the emergency-contacts and mission-generation prompts produce them.</summary>
internal static class SampleAnswers
{
    /// <summary>An emergency-contacts answer for San Francisco, earthquake scenario, family of 4.</summary>
    public const string EmergencyContacts = """
        # Emergency Contact Plan: San Francisco, CA

        Based on your location near **37.7749, -122.4194** and your selected scenario (earthquake), here are the
        contacts and meeting points your family of 4 should keep for the first 72 hours.

        ## 🚨 Emergency Contacts

        ### 1. San Francisco Fire Department – Station 1
        - **Phone:** (415) 558-3200
        - **Address:** 935 Folsom St, San Francisco, CA 94107
        - **Category:** fire
        - **Priority:** critical
        - **Fit Score:** 95
        - **Available 24/7:** Yes
        - **Reasoning:** Closest fire station; first responder for structural collapse and gas leaks after a quake.

        ### 2. Zuckerberg San Francisco General Hospital
        - **Phone:** (628) 206-8000
        - **Address:** 1001 Potrero Ave, San Francisco, CA 94110
        - **Category:** medical
        - **Priority:** critical
        - **Fit Score:** 92
        - **Available 24/7:** Yes
        - **Reasoning:** The city's only Level I trauma center.

        ### 3. PG&E Gas Emergency Line
        **Phone:** 1-800-743-5000
        **Category:** utility
        **Priority:** important
        **Fit Score:** 80
        **Reasoning:** Report gas smells or downed power lines; never relight pilot lights yourself.

        ### 4. Out-of-Area Family Contact
        - **Phone:** Add a relative outside California
        - **Category:** family
        - **Priority:** important
        - **Fit Score:** 75
        - **Reasoning:** Long-distance calls often get through when local lines are jammed.

        ## 📍 Meeting Locations

        ### Primary: Dolores Park (north end)
        - **Address:** Dolores St & 19th St, San Francisco, CA 94114
        - **Description:** Large open lawn away from buildings and power lines.
        - **Practical Details:** Meet at the tennis courts; 10-minute walk from home.
        - **Reasoning:** Open space is the safest place after shaking stops.

        ### Secondary: Mission Branch Library
        - **Address:** 300 Bartlett St, San Francisco, CA 94110
        - **Description:** Designated city shelter point.
        - **Practical Details:** Use if the park is closed or unsafe.
        - **Reasoning:** Indoor option with staff and information boards.

        ## Quick Reference

        | Service | Number | When to call |
        |---------|--------|--------------|
        | Emergency | 911 | Life-threatening danger |
        | Non-emergency police | (415) 553-0123 | Reports, welfare checks |

        ## Additional Notes

        Keep a printed copy of this list in each go-bag. Text instead of calling when networks are congested.
        """;

    /// <summary>A mission plan in the layout the mission-generation prompt asks for (H2 per section).</summary>
    public const string MissionPlan = """
        # Your 72-Hour Earthquake Mission Plan

        ## 📋 Executive Summary
        Your family of 4 in San Francisco faces a **high** earthquake risk. This plan covers water, shelter and communication.

        ## ⚠️ Risk Assessment
        - **Overall Risk:** High
        - **Primary Threat:** Ground shaking and fires
        - Aftershocks for several days

        ## 🎒 Recommended Bundles
        1. **72-Hour Family Kit** - water, food and first aid for four
        2. **Quake Shelter Bundle** - tent, tarps and sleeping bags

        ## 🧠 Survival Skills
        - Drop, cover and hold on
        - Shut off the gas main

        ## 📅 Day-by-Day Simulation
        ### Day 1
        Check injuries and hazards.
        ### Day 2
        Ration water.

        ## ✅ Next Steps
        1. Order the kit
        2. Practice the meeting plan
        """;
}
