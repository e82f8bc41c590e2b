// Renders /openapi/v1.json with Scalar. Fonts are the system's (withDefaultFonts: false) and the "Ask AI" agent,
// which calls Scalar's servers, is off: nothing is loaded from outside this service, so the reference works offline.
Scalar.createApiReference("#app", {
  url: "/openapi/v1.json",
  withDefaultFonts: false,
  hideClientButton: true,
  agent: { disabled: true },
  authentication: { preferredSecurityScheme: "ApiKey" },
  metaData: { title: "LlmWorkflow API reference" },
});
