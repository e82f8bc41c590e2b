// The API container app: external HTTPS ingress to port 8080, liveness on /alive, readiness on /health (200 while
// healthy or degraded, 503 when PostgreSQL or Redis is down), scaled on concurrent requests.
param name string
param location string
param tags object
param exists bool
param environmentId string
param identityId string
param identityClientId string
param registryServer string
param keyVaultUri string

@description('Optional Key Vault secrets present in this deployment: [{ secret, env }].')
param optionalSecretEnv array = []

param otlpEndpoint string = ''
param otlpProtocol string = 'grpc'
param minReplicas int = 1
param maxReplicas int = 5

// ASPNETCORE_HTTP_PORTS in the image (LlmWorkflow.Api.csproj).
var targetPort = 8080

resource existingApp 'Microsoft.App/containerApps@2024-03-01' existing = if (exists) {
  name: name
}

var secrets = concat([
  { name: 'postgres-connection', keyVaultUrl: '${keyVaultUri}secrets/postgres-connection', identity: identityId }
  { name: 'redis-connection', keyVaultUrl: '${keyVaultUri}secrets/redis-connection', identity: identityId }
  { name: 'caller-api-key', keyVaultUrl: '${keyVaultUri}secrets/caller-api-key', identity: identityId }
  { name: 'admin-api-key', keyVaultUrl: '${keyVaultUri}secrets/admin-api-key', identity: identityId }
  { name: 'webhook-secret', keyVaultUrl: '${keyVaultUri}secrets/webhook-secret', identity: identityId }
], map(optionalSecretEnv, s => { name: s.secret, keyVaultUrl: '${keyVaultUri}secrets/${s.secret}', identity: identityId }))

var env = concat([
  { name: 'ConnectionStrings__postgres', secretRef: 'postgres-connection' }
  { name: 'ConnectionStrings__redis', secretRef: 'redis-connection' }
  { name: 'LLM_MICROSERVICE_API_KEY', secretRef: 'caller-api-key' }
  { name: 'ADMIN_API_KEY', secretRef: 'admin-api-key' }
  { name: 'LLM_WEBHOOK_SECRET', secretRef: 'webhook-secret' }
  { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
  // Aspire's model sets it on every project: the OTLP exporter retries a failed export from memory.
  { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
  { name: 'OTEL_SERVICE_NAME', value: 'api' }
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: otlpProtocol }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
], map(optionalSecretEnv, s => { name: s.env, secretRef: s.secret }))

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: targetPort
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: 'api'
          image: exists ? existingApp.properties.template.containers[0].image : 'mcr.microsoft.com/dotnet/samples:aspnetapp'
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: env
          probes: [
            {
              type: 'Startup'
              httpGet: { path: '/alive', port: targetPort }
              periodSeconds: 3
              failureThreshold: 30
            }
            {
              type: 'Liveness'
              httpGet: { path: '/alive', port: targetPort }
              periodSeconds: 10
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: { path: '/health', port: targetPort }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-requests'
            http: { metadata: { concurrentRequests: '100' } }
          }
        ]
      }
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.configuration.ingress.fqdn}'
