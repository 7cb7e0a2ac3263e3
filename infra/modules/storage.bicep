// The one storage account: Functions host data (blob), the Flex deployment package, and the audit tables.
// Reached only with Entra ID: shared keys are off, so no connection string with a key can work.

@description('Required. Storage account name (3-24 lowercase letters and digits, globally unique).')
param name string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the account.')
param tags object = {}

@description('Optional. Replication SKU.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param skuName string = 'Standard_LRS'

@description('Optional. Blob container that holds the Flex Consumption deployment package; empty for none.')
param deploymentContainerName string = ''

@description('Optional. True to refuse all public network access (use with private endpoints).')
param disablePublicNetworkAccess bool = false

@description('Optional. Public IPv4 addresses or CIDR ranges allowed through the storage firewall when public access stays on; empty allows all networks.')
param allowedIpRanges string[] = []

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
    publicNetworkAccess: disablePublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: disablePublicNetworkAccess || !empty(allowedIpRanges) ? 'Deny' : 'Allow'
      ipRules: [for ip in allowedIpRanges: { value: ip, action: 'Allow' }]
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: {
        enabled: true
        days: 7
      }
    }

    resource deploymentContainer 'containers' = if (!empty(deploymentContainerName)) {
      name: empty(deploymentContainerName) ? 'unused' : deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

@description('Storage account name.')
output NAME string = account.name

@description('Storage account resource ID.')
output RESOURCE_ID string = account.id

@description('Blob endpoint, e.g. https://<account>.blob.core.windows.net/ (the cloud\'s suffix).')
output BLOB_ENDPOINT string = account.properties.primaryEndpoints.blob

@description('Table endpoint for the audit tables, without the trailing slash.')
output AUDIT_TABLES_ENDPOINT string = substring(account.properties.primaryEndpoints.table, 0, length(account.properties.primaryEndpoints.table) - 1)

@description('Queue endpoint for the shard queue (AUDIT_QUEUE__queueServiceUri), without the trailing slash.')
output QUEUE_ENDPOINT string = substring(account.properties.primaryEndpoints.queue, 0, length(account.properties.primaryEndpoints.queue) - 1)
