// A storage account of its own for the evidence bundles: one container under a time-based immutability (WORM)
// policy, reached only with Entra ID. The auditor's identity gets a role on that container and nothing else here.

@description('Required. Storage account name (3-24 lowercase letters and digits, globally unique).')
param name string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the account.')
param tags object = {}

@description('Optional. Replication SKU.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param skuName string = 'Standard_LRS'

@description('Optional. Name of the container the bundles go to.')
param containerName string = 'evidence'

@description('Optional. Days each bundle is kept immutable from its creation (AUDIT_EVIDENCE_RETENTION_DAYS).')
@minValue(1)
@maxValue(146000)
param retentionDays int = 365

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    dnsEndpointType: 'Standard'
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource container 'containers' = {
      name: containerName
      properties: {
        publicAccess: 'None'
      }

      // Time-based retention: no blob can be overwritten or deleted until it is retentionDays old, whatever role
      // the caller has. Created unlocked (ARM cannot lock it declaratively); infra/README.md says how to lock it.
      resource immutability 'immutabilityPolicies' = {
        name: 'default'
        properties: {
          immutabilityPeriodSinceCreationInDays: retentionDays
          allowProtectedAppendWrites: false
        }
      }
    }
  }
}

@description('Storage account name.')
output NAME string = account.name

@description('The container\'s name.')
output CONTAINER_NAME string = account::blobServices::container.name

@description('URL of the container, the value of AUDIT_EVIDENCE_CONTAINER.')
output AUDIT_EVIDENCE_CONTAINER string = '${account.properties.primaryEndpoints.blob}${containerName}'
