// Azure Managed Redis (Redis 7.4): KEDA's redis-streams lagCount needs Redis 7 (XINFO GROUPS "lag"), which Azure
// Cache for Redis (Redis 6) lacks. TLS only, access-key auth. Clustering policy NoCluster: one shard behind one
// endpoint, because our RESP client is not cluster-aware and the worker reads the three priority streams in one
// XREADGROUP (OSSCluster would need a cluster client; EnterpriseCluster rejects cross-slot multi-key commands).
param name string
param location string
param tags object

resource cluster 'Microsoft.Cache/redisEnterprise@2025-05-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Balanced_B0' }
  properties: {
    minimumTlsVersion: '1.2'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-05-01-preview' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'NoCluster'
    // Job dispatch streams must never be evicted.
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Enabled'
  }
}

output name string = cluster.name
output hostName string = cluster.properties.hostName
output port int = database.properties.port
