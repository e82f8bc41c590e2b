// The worker container app: no ingress; KEDA's redis-streams scaler adds replicas on the lag of each priority
// stream's consumer group (one rule per stream, TLS, password from Key Vault). At least one replica always runs
// (it also delivers webhooks and runs maintenance). On scale-in the platform sends SIGTERM: the worker stops
// reading, drains in-flight jobs for Worker__DrainTimeout, and the grace period leaves room for that.
param name string
param location string
param tags object
param exists bool
param environmentId string
param identityId string
param identityClientId string
param registryServer string
param keyVaultUri string
param redisHost string
param redisPort int

@description('Optional Key Vault secrets present in this deployment: [{ secret, env }].')
param optionalSecretEnv array = []

param otlpEndpoint string = ''
param otlpProtocol string = 'grpc'
param minReplicas int = 1
param maxReplicas int = 10

@description('Pending entries per stream (not yet delivered to the group) that justify one more replica.')
param lagPerReplica int = 20

// Queue:KeyPrefix and Queue:ConsumerGroup defaults (LlmWorkflow.Storage/Jobs/QueueOptions.cs); one stream per
// priority band (PriorityBands.StreamKey).
var consumerGroup = 'workers'
var streams = [
  { rule: 'jobs-high', stream: 'llmwf:jobs:high' }
  { rule: 'jobs-normal', stream: 'llmwf:jobs:normal' }
  { rule: 'jobs-low', stream: 'llmwf:jobs:low' }
]

// SIGTERM -> drain (Worker__DrainTimeout) + host shutdown margin (10 s) must fit in the grace period.
var drainTimeout = '00:00:45'
var terminationGracePeriodSeconds = 60

resource existingApp 'Microsoft.App/containerApps@2024-03-01' existing = if (exists) {
  name: name
}

var secrets = concat([
  { name: 'postgres-connection', keyVaultUrl: '${keyVaultUri}secrets/postgres-connection', identity: identityId }
  { name: 'redis-connection', keyVaultUrl: '${keyVaultUri}secrets/redis-connection', identity: identityId }
  { name: 'redis-password', keyVaultUrl: '${keyVaultUri}secrets/redis-password', identity: identityId }
  { name: 'webhook-secret', keyVaultUrl: '${keyVaultUri}secrets/webhook-secret', identity: identityId }
], map(optionalSecretEnv, s => { name: s.secret, keyVaultUrl: '${keyVaultUri}secrets/${s.secret}', identity: identityId }))

var env = concat([
  { name: 'ConnectionStrings__postgres', secretRef: 'postgres-connection' }
  { name: 'ConnectionStrings__redis', secretRef: 'redis-connection' }
  { name: 'LLM_WEBHOOK_SECRET', secretRef: 'webhook-secret' }
  { name: 'Queue__ConsumerGroup', value: consumerGroup }
  { name: 'Worker__DrainTimeout', value: drainTimeout }
  // Aspire's model sets it on every project: the OTLP exporter retries a failed export from memory.
  { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
  { name: 'OTEL_SERVICE_NAME', value: 'worker' }
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
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: secrets
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'worker'
          image: exists ? existingApp.properties.template.containers[0].image : 'mcr.microsoft.com/dotnet/samples:dotnetapp'
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: env
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [for s in streams: {
          name: s.rule
          custom: {
            type: 'redis-streams'
            metadata: {
              address: '${redisHost}:${redisPort}'
              stream: s.stream
              consumerGroup: consumerGroup
              lagCount: string(lagPerReplica)
              enableTLS: 'true'
            }
            auth: [
              {
                secretRef: 'redis-password'
                triggerParameter: 'password'
              }
            ]
          }
        }]
      }
    }
  }
}

output name string = app.name
