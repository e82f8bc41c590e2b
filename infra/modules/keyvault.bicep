// Key Vault holds every secret; the container apps reference them by URL through the user-assigned identity
// (Key Vault Secrets User), so rotating a secret is a Key Vault update plus a new revision.
param name string
param location string
param tags object
param readerPrincipalId string

@description('The deploying user (azd stores generated passwords here); empty skips the assignment.')
param adminPrincipalId string = ''

@secure()
@description('Secret name -> value for the plain secrets (keys, webhook secret, provider keys).')
param secrets object

param postgresHost string
param postgresDatabase string
param postgresUser string

@secure()
param postgresPassword string

param redisResourceName string

var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource appsRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
  }
}

resource deployerManages 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(adminPrincipalId)) {
  name: guid(vault.id, adminPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    principalId: adminPrincipalId
    principalType: 'User'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
  }
}

resource plainSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in items(secrets): {
  parent: vault
  name: secret.key
  properties: { value: secret.value }
}]

// Npgsql form; SSL Mode=Require is passed through to Npgsql unchanged.
resource postgresConnection 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'postgres-connection'
  properties: {
    value: 'Host=${postgresHost};Port=5432;Database=${postgresDatabase};Username=${postgresUser};Password=${postgresPassword};SSL Mode=Require'
  }
}

resource redis 'Microsoft.Cache/redisEnterprise@2025-05-01-preview' existing = {
  name: redisResourceName
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-05-01-preview' existing = {
  parent: redis
  name: 'default'
}

// StackExchange/Aspire form our RESP client parses: TLS on, AUTH with the access key.
resource redisConnection 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-connection'
  properties: {
    value: '${redis.properties.hostName}:${redisDatabase.properties.port},password=${redisDatabase.listKeys().primaryKey},ssl=true,abortConnect=false'
  }
}

// KEDA's redis-streams scaler authenticates with the bare password.
resource redisPassword 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-password'
  properties: {
    value: redisDatabase.listKeys().primaryKey
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
