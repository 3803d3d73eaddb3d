// One warmup role as a Container App: the same image, its own command, only the secrets it
// reads (Key Vault references, resolved with the user-assigned identity), and its scale.

@description('The app name, e.g. warmup-worker.')
param name string
@description('What every role shares: location, environmentId, identityId, image, registryServer, tags.')
param platform object
@description('The warmup command line after the entry point, e.g. ["worker", "--queues", "send,feedback"].')
param args array
@description('Key Vault secrets this role reads: { name: the secret in the app, url: its Key Vault URI }.')
param secrets array
@description('Environment: plain values and secretRef entries, as Container Apps takes them.')
param env array
param minReplicas int = 1
param maxReplicas int = 1
@description('KEDA scale rules (Container Apps format); empty: a fixed count.')
param scaleRules array = []
@description('Ingress (Container Apps format); empty: none, the role takes no connections.')
param ingress object = {}
@description('Volumes of secrets (the relay\'s certificate), and where they are mounted.')
param volumes array = []
param volumeMounts array = []
param probes array = []
param cpu string = '0.5'
param memory string = '1Gi'

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: platform.location
  tags: platform.tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${platform.identityId}': {} }
  }
  properties: {
    managedEnvironmentId: platform.environmentId
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: empty(ingress) ? null : ingress
      registries: [{ server: platform.registryServer, identity: platform.identityId }]
      secrets: [for secret in secrets: { name: secret.name, keyVaultUrl: secret.url, identity: platform.identityId }]
    }
    template: {
      containers: [
        {
          name: 'warmup'
          image: platform.image
          args: args
          env: env
          probes: probes
          volumeMounts: volumeMounts
          resources: { cpu: json(cpu), memory: memory }
        }
      ]
      scale: { minReplicas: minReplicas, maxReplicas: maxReplicas, rules: scaleRules }
      volumes: volumes
    }
  }
}

output fqdn string = empty(ingress) ? '' : app.properties.configuration.ingress.fqdn
