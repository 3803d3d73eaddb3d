// warmup on Azure Container Apps: the API (external HTTPS), send workers scaled by KEDA on the
// Redis send queue, the dispatcher, beat (one), the SMTP relay (TCP 587, optional) and the
// migrate job; Azure Cache for Redis and PostgreSQL Flexible Server on a private network;
// secrets in Key Vault; one user-assigned identity with the least roles (docs/azure.md);
// the ACS resource's delivery reports to the webhook through Event Grid, and its logs to the
// workspace. Deploy with `azd up` (azure.yaml at the repository root) or
//   az deployment group create -g <group> -f deploy/azure/main.bicep -p deploy/azure/main.parameters.json
// The ACS resources (Communication Service, Email Service with the domain) already exist in
// this resource group: domain verification takes days, so they are not created here.
targetScope = 'resourceGroup'

@description('Azure region for everything created here.')
param location string = resourceGroup().location

@minLength(3)
@maxLength(12)
@description('A short prefix for resource names.')
param prefix string = 'warmup'

@description('The image every role runs, with its release tag (never latest): <registry>/warmup:0.1.0.')
param image string

@description('The Azure Container Registry (in this resource group) the image is pulled from.')
param registryName string

@description('The Communication Service that sends (existing, in this resource group).')
param communicationServiceName string

@description('The Email Communication Service that holds the sending domain (existing).')
param emailServiceName string

@description('The sending domain to warm up, e.g. mail.example.com (verified in the Email Service).')
param sendingDomain string

@description('A sender address on it, e.g. news@mail.example.com (more: warmup acs sender add).')
param sender string

@description('The ramp plan: a preset name (acs-default, conservative...) or a path in the image.')
param plan string = 'acs-default'

@description('The public URL of the API (unsubscribe links); empty: its Container Apps address.')
param publicUrl string = ''

@secure()
@description('Signs unsubscribe links: 32+ random characters, kept across deployments.')
param unsubscribeSecret string

@secure()
@description('Authenticates Event Grid to the webhook (?code=): 32+ random characters.')
param webhookSecret string

@secure()
@description('PostgreSQL administrator password (URL-safe characters).')
param postgresPassword string

@description('Subscribe the webhook to ACS delivery reports. Event Grid validates the endpoint at once, so set it true once the API runs and the migrate job has succeeded (a second `azd provision`).')
param connectEventGrid bool = false

@description('Run the SMTP relay for apps and devices (TCP 587): its certificate in Key Vault as relay-tls-crt and relay-tls-key.')
param relayEnabled bool = false

@description('Most send workers KEDA may run.')
param maxWorkers int = 10

@description('Azure Cache for Redis SKU. Premium adds data persistence; without it warmup rebuilds the limiter from the ledger after a Redis restart, and queued batches wait out their lease.')
@allowed(['Standard', 'Premium'])
param redisSku string = 'Standard'

var tags = { application: 'warmup' }
// Premium only: a snapshot every hour, so a restart keeps the queue and the limiter's windows.
var premiumPersistence = { 'rdb-backup-enabled': 'true', 'rdb-backup-frequency': '60' }
var suffix = uniqueString(resourceGroup().id)

// --- roles (built-in role definition ids) ---------------------------------------------------
var roles = {
  communicationAndEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

// --- identity, logs, secrets ------------------------------------------------------------------
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-identity'
  location: location
  tags: tags
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${prefix}-logs-${suffix}'
  location: location
  tags: tags
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: '${prefix}-kv-${take(suffix, 8)}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    softDeleteRetentionInDays: 30
    // Reached through its private endpoint only. The deployment writes the secrets through the
    // resource manager, which this does not block.
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }
  }
}

// --- network: the stores are reachable from the apps' subnet only --------------------------------
resource network 'Microsoft.Network/virtualNetworks@2023-09-01' = {
  name: '${prefix}-network'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: ['10.50.0.0/16'] }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: '10.50.0.0/23'
          delegations: [{ name: 'apps', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: '10.50.2.0/24'
          delegations: [
            { name: 'postgres', properties: { serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers' } }
          ]
        }
      }
      { name: 'endpoints', properties: { addressPrefix: '10.50.3.0/24' } }
    ]
  }
}

resource postgresZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: '${prefix}.private.postgres.database.azure.com'
  location: 'global'
  tags: tags
}

resource redisZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.redis.cache.windows.net'
  location: 'global'
  tags: tags
}

resource vaultZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
  tags: tags
}

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for zone in [postgresZone.name, redisZone.name, vaultZone.name]: {
    name: '${zone}/${prefix}-network'
    location: 'global'
    properties: { registrationEnabled: false, virtualNetwork: { id: network.id } }
    dependsOn: [postgresZone, redisZone, vaultZone]
  }
]

// Private endpoints in the endpoints subnet, each with its name in the linked private zone.
var endpoints = [
  { name: 'redis', target: redis.id, group: 'redisCache', zone: redisZone.id }
  { name: 'vault', target: vault.id, group: 'vault', zone: vaultZone.id }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2023-09-01' = [
  for endpoint in endpoints: {
    name: '${prefix}-${endpoint.name}-endpoint'
    location: location
    tags: tags
    properties: {
      subnet: { id: network.properties.subnets[2].id }
      privateLinkServiceConnections: [
        { name: endpoint.name, properties: { privateLinkServiceId: endpoint.target, groupIds: [endpoint.group] } }
      ]
    }
  }
]

resource endpointNames 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-09-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: endpoint.name
    properties: {
      privateDnsZoneConfigs: [{ name: endpoint.name, properties: { privateDnsZoneId: endpoint.zone } }]
    }
  }
]

// --- stores ------------------------------------------------------------------------------------
resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2022-12-01' = {
  name: '${prefix}-pg-${suffix}'
  location: location
  tags: tags
  sku: { name: 'Standard_D2ds_v5', tier: 'GeneralPurpose' }
  properties: {
    version: '16'
    administratorLogin: 'warmup'
    administratorLoginPassword: postgresPassword
    storage: { storageSizeGB: 64 }
    backup: { backupRetentionDays: 14, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'ZoneRedundant' }
    network: {
      delegatedSubnetResourceId: network.properties.subnets[1].id
      privateDnsZoneArmResourceId: postgresZone.id
    }
  }
  dependsOn: [zoneLinks]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2022-12-01' = {
  parent: postgres
  name: 'warmup'
}

resource redis 'Microsoft.Cache/redis@2023-08-01' = {
  name: '${prefix}-redis-${suffix}'
  location: location
  tags: tags
  properties: {
    sku: { name: redisSku, family: redisSku == 'Premium' ? 'P' : 'C', capacity: 1 }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
    redisConfiguration: redisSku == 'Premium' ? premiumPersistence : {}
  }
}

// The secrets every role may be given, in Key Vault; each app reads only its own (see below).
var redisHost = '${redis.properties.hostName}:6380'
var secretValues = {
  'database-url': 'postgresql+psycopg://warmup:${postgresPassword}@${postgres.properties.fullyQualifiedDomainName}:5432/warmup?sslmode=require'
  'redis-url': 'rediss://:${redis.listKeys().primaryKey}@${redisHost}/0'
  'redis-password': redis.listKeys().primaryKey
  'unsubscribe-secret': unsubscribeSecret
  'webhook-secrets': webhookSecret
}

resource vaultSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for secret in items(secretValues): {
    parent: vault
    name: secret.key
    properties: { value: secret.value, contentType: 'text/plain' }
  }
]

// Each app names the Key Vault secrets it reads: { name (in the app), url (in the vault) }.
var uri = vault.properties.vaultUri
var database = [{ name: 'database-url', url: '${uri}secrets/database-url' }]
var broker = [{ name: 'redis-url', url: '${uri}secrets/redis-url' }]
var links = [{ name: 'unsubscribe-secret', url: '${uri}secrets/unsubscribe-secret' }]
var webhook = [{ name: 'webhook-secrets', url: '${uri}secrets/webhook-secrets' }]
var redisPassword = [{ name: 'redis-password', url: '${uri}secrets/redis-password' }]
var relayTls = [
  { name: 'relay-tls-crt', url: '${uri}secrets/relay-tls-crt' }
  { name: 'relay-tls-key', url: '${uri}secrets/relay-tls-key' }
]

// --- the identity's roles: no more than the commands need ---------------------------------------
resource acs 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' existing = {
  name: emailServiceName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

// Sending with Entra ID, SMTP usernames (on the Communication Service); domains, sender
// usernames and suppression lists (on the Email Service).
resource sendRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(acs.id, identity.id, roles.communicationAndEmailServiceOwner)
  scope: acs
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.communicationAndEmailServiceOwner)
  }
}

resource emailRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(emailService.id, identity.id, roles.communicationAndEmailServiceOwner)
  scope: emailService
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.communicationAndEmailServiceOwner)
  }
}

// `warmup feedback pull` reads ACS's delivery logs from the workspace.
resource logsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, identity.id, roles.logAnalyticsReader)
  scope: workspace
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
  }
}

resource secretsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource pullRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, roles.acrPull)
  scope: registry
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}

// --- ACS's logs to the workspace ---------------------------------------------------------------
resource acsLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'warmup'
  scope: acs
  properties: {
    workspaceId: workspace.id
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

// --- the apps ----------------------------------------------------------------------------------
resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${prefix}-apps'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    vnetConfiguration: { infrastructureSubnetId: network.properties.subnets[0].id, internal: false }
    workloadProfiles: [{ name: 'Consumption', workloadProfileType: 'Consumption' }]
  }
}

// Settings every role shares: Entra ID for ACS and the resource manager with this identity,
// JSON logs for the workspace.
var common = [
  { name: 'WARMUP_ACS_AUTH', value: 'managed_identity' }
  { name: 'WARMUP_ACS_ENDPOINT', value: 'https://${acs.properties.hostName}' }
  { name: 'WARMUP_AZURE_CLIENT_ID', value: identity.properties.clientId }
  { name: 'WARMUP_AZURE_SUBSCRIPTION_ID', value: subscription().subscriptionId }
  { name: 'WARMUP_ACS_RESOURCE_GROUP', value: resourceGroup().name }
  { name: 'WARMUP_ACS_EMAIL_SERVICE', value: emailServiceName }
  { name: 'WARMUP_ACS_COMMUNICATION_SERVICE', value: communicationServiceName }
  { name: 'WARMUP_LOG_ANALYTICS_WORKSPACE_ID', value: workspace.properties.customerId }
  { name: 'WARMUP_LOG_FORMAT', value: 'json' }
]
var databaseEnv = [{ name: 'WARMUP_DATABASE_URL', secretRef: 'database-url' }]
var brokerEnv = [{ name: 'WARMUP_REDIS_URL', secretRef: 'redis-url' }]
var linksEnv = [
  { name: 'WARMUP_UNSUBSCRIBE_SECRET', secretRef: 'unsubscribe-secret' }
  { name: 'WARMUP_PUBLIC_URL', value: empty(publicUrl) ? 'https://${prefix}-api.${environment.properties.defaultDomain}' : publicUrl }
]
var alive = [
  { type: 'Liveness', exec: { command: ['warmup-probe', '--alive'] }, periodSeconds: 30, initialDelaySeconds: 30 }
]
var platform = {
  location: location
  environmentId: environment.id
  identityId: identity.id
  image: image
  registryServer: registry.properties.loginServer
  tags: tags
}

module api 'modules/app.bicep' = {
  name: 'api'
  params: {
    platform: platform
    name: '${prefix}-api'
    args: ['api', '--host', '0.0.0.0', '--port', '8000']
    secrets: concat(database, broker, links, webhook)
    env: concat(common, databaseEnv, brokerEnv, linksEnv, [
      { name: 'WARMUP_WEBHOOK_SECRETS', secretRef: 'webhook-secrets' }
      // Container Apps' envoy is the proxy; the API sees the caller's address through it.
      { name: 'WARMUP_API_TRUSTED_PROXIES', value: '10.50.0.0/23' }
    ])
    minReplicas: 2
    maxReplicas: 4
    ingress: { external: true, targetPort: 8000, transport: 'http', allowInsecure: false }
    probes: [
      { type: 'Liveness', httpGet: { path: '/healthz', port: 8000 }, periodSeconds: 10 }
      { type: 'Readiness', httpGet: { path: '/readyz', port: 8000 }, periodSeconds: 10 }
    ]
    cpu: '0.5'
    memory: '1Gi'
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets]
}

module worker 'modules/app.bicep' = {
  name: 'worker'
  params: {
    platform: platform
    name: '${prefix}-worker'
    args: ['worker', '--queues', 'send,feedback', '--concurrency', '2']
    secrets: concat(database, broker, links, redisPassword)
    env: concat(common, databaseEnv, brokerEnv, linksEnv)
    minReplicas: 1
    maxReplicas: maxWorkers
    // KEDA (built into Container Apps) adds a worker per 20 batches waiting on the send queue.
    scaleRules: [
      {
        name: 'send-queue'
        custom: {
          type: 'redis'
          metadata: { address: redisHost, listName: 'send', listLength: '20', enableTLS: 'true' }
          auth: [{ secretRef: 'redis-password', triggerParameter: 'password' }]
        }
      }
    ]
    probes: concat(alive, [{ type: 'Readiness', exec: { command: ['warmup-probe'] }, periodSeconds: 30 }])
    cpu: '1.0'
    memory: '2Gi'
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets, sendRole]
}

module dispatcher 'modules/app.bicep' = {
  name: 'dispatcher'
  params: {
    platform: platform
    name: '${prefix}-dispatcher'
    args: ['worker', '--queues', 'dispatch', '--concurrency', '1']
    secrets: concat(database, broker)
    env: concat(common, databaseEnv, brokerEnv)
    probes: concat(alive, [{ type: 'Readiness', exec: { command: ['warmup-probe'] }, periodSeconds: 30 }])
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets, sendRole]
}

module beat 'modules/app.bicep' = {
  name: 'beat'
  params: {
    platform: platform
    name: '${prefix}-beat'
    args: ['beat', '--schedule', '/tmp/beat-schedule']
    secrets: broker
    env: concat(common, brokerEnv)
    minReplicas: 1
    maxReplicas: 1 // a singleton: two would tick twice
    probes: alive
    cpu: '0.25'
    memory: '0.5Gi'
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets]
}

module relay 'modules/app.bicep' = if (relayEnabled) {
  name: 'relay'
  params: {
    platform: platform
    name: '${prefix}-relay'
    args: ['relay', '--host', '0.0.0.0', '--port', '2587', '--tls-cert', '/run/relay-tls/tls.crt', '--tls-key', '/run/relay-tls/tls.key']
    secrets: concat(database, relayTls)
    env: concat(common, databaseEnv)
    minReplicas: 2
    maxReplicas: 2
    ingress: { external: true, transport: 'tcp', targetPort: 2587, exposedPort: 587 }
    volumes: [
      {
        name: 'relay-tls'
        storageType: 'Secret'
        secrets: [{ secretRef: 'relay-tls-crt', path: 'tls.crt' }, { secretRef: 'relay-tls-key', path: 'tls.key' }]
      }
    ]
    volumeMounts: [{ volumeName: 'relay-tls', mountPath: '/run/relay-tls' }]
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets]
}

// Migrations: run once per release before the apps roll (`az containerapp job start`; azd's
// postprovision hook does). Apps refuse a schema older than theirs until it has run.
resource migrate 'Microsoft.App/jobs@2024-03-01' = {
  name: '${prefix}-migrate'
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    environmentId: environment.id
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 1800
      replicaRetryLimit: 2
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 }
      registries: [{ server: registry.properties.loginServer, identity: identity.id }]
      secrets: [for secret in database: { name: secret.name, keyVaultUrl: secret.url, identity: identity.id }]
    }
    template: {
      containers: [
        {
          name: 'migrate'
          image: image
          args: ['db', 'upgrade']
          env: databaseEnv
          resources: { cpu: json('0.5'), memory: '1Gi' }
        }
      ]
    }
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets]
}

// The domain's warm-up: registers the domain on its plan (once; again after changing the plan
// is refused, use `warmup plan` commands). Started by hand after the migrate job.
resource domainSetup 'Microsoft.App/jobs@2024-03-01' = {
  name: '${prefix}-domain-setup'
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    environmentId: environment.id
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 600
      replicaRetryLimit: 0
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 }
      registries: [{ server: registry.properties.loginServer, identity: identity.id }]
      secrets: [for secret in database: { name: secret.name, keyVaultUrl: secret.url, identity: identity.id }]
    }
    template: {
      containers: [
        {
          name: 'domain-setup'
          image: image
          args: ['domain', 'add', sendingDomain, '--plan', plan, '--sender', sender]
          env: concat(common, databaseEnv)
          resources: { cpu: json('0.25'), memory: '0.5Gi' }
        }
      ]
    }
  }
  dependsOn: [secretsRole, pullRole, vaultSecrets]
}

// --- delivery reports: ACS -> Event Grid -> the webhook -------------------------------------------
resource events 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${prefix}-acs-events'
  location: 'global'
  tags: tags
  properties: { source: acs.id, topicType: 'Microsoft.Communication.CommunicationServices' }
}

resource reports 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (connectEventGrid) {
  parent: events
  name: 'warmup-webhook'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${api.outputs.fqdn}/webhooks/acs?code=${webhookSecret}'
        maxEventsPerBatch: 100
        preferredBatchSizeInKilobytes: 512 // under the webhook's 1 MiB body limit
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.EmailDeliveryReportReceived'
        'Microsoft.Communication.EmailEngagementTrackingReportReceived'
      ]
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
  }
}

// azd keeps these in its environment (.azure/<env>/.env) for the hooks and for people.
output WARMUP_API_URL string = 'https://${api.outputs.fqdn}'
output WARMUP_RELAY_ADDRESS string = relayEnabled ? '${relay.outputs.fqdn}:587' : ''
output WARMUP_MIGRATE_JOB string = migrate.name
output WARMUP_DOMAIN_SETUP_JOB string = domainSetup.name
output WARMUP_IDENTITY_CLIENT_ID string = identity.properties.clientId
output WARMUP_KEY_VAULT string = vault.name
