// Every role the auditor identity holds inside the resource group, generated from the one list below.
// Reader on the audited scopes lives in readerAtSubscription.bicep / readerAtManagementGroup.bicep.

import { builtInRoles } from 'roles.bicep'

@description('Required. Principal (object) ID of the auditor\'s user-assigned managed identity.')
param principalId string

@description('Required. Name of the storage account holding the Functions host data and the audit tables.')
param storageAccountName string

@description('Required. Name of the Application Insights component the app reports to.')
param applicationInsightsName string

@description('Optional. Name of the Azure Communication Services resource; empty when mail does not go through ACS.')
param communicationServiceName string = ''

@description('Optional. Name of the Key Vault holding the SMTP password; empty when there is none.')
param keyVaultName string = ''

@description('Optional. Name of the Key Vault holding the evidence signing key; empty when runs are not signed.')
param signingKeyVaultName string = ''

@description('Optional. Name of the evidence signing key in that vault; empty when runs are not signed.')
param signingKeyName string = ''

@description('Optional. Name of the storage account of the evidence bundles; empty when they are not retained.')
param evidenceStorageAccountName string = ''

@description('Optional. Name of the WORM container of the evidence bundles in that account.')
param evidenceContainerName string = ''

// One row per assignment: the resource it is scoped to, the role, and why the app needs it.
var assignments = [
  {
    target: 'storage'
    role: builtInRoles.storageBlobDataOwner
    why: 'Functions host storage (AzureWebJobsStorage) and the Flex Consumption deployment package'
  }
  {
    target: 'storage'
    role: builtInRoles.storageTableDataContributor
    why: 'audit runs, results, pool states and the audit lease (AUDIT_TABLES_ENDPOINT)'
  }
  {
    target: 'applicationInsights'
    role: builtInRoles.monitoringMetricsPublisher
    why: 'telemetry ingestion with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)'
  }
  {
    target: 'communication'
    role: builtInRoles.communicationAndEmailServiceOwner
    why: 'sending the digest through ACS Email with the managed identity (EMAIL_ENDPOINT)'
  }
  {
    target: 'keyVault'
    role: builtInRoles.keyVaultSecretsUser
    why: 'resolving the SMTP_PASSWORD Key Vault reference'
  }
  {
    target: 'storageQueue'
    role: builtInRoles.storageQueueDataContributor
    why: 'the audit pipeline queue: the app creates it and sends each run\'s plan and shards, the queue trigger reads and deletes (AUDIT_QUEUE__queueServiceUri)'
  }
  {
    target: 'signingKey'
    role: builtInRoles.keyVaultCryptoUser
    why: 'signing each run\'s chain digest with the evidence key (AUDIT_SIGNING_KEY_ID), on that key only'
  }
  {
    target: 'evidenceContainer'
    role: builtInRoles.storageBlobDataContributor
    why: 'writing evidence bundles into the WORM container (AUDIT_EVIDENCE_CONTAINER), on that container only; its immutability policy refuses overwrites and deletes'
  }
]

var enabledTargets = {
  storage: true
  storageQueue: true
  applicationInsights: true
  communication: !empty(communicationServiceName)
  keyVault: !empty(keyVaultName)
  signingKey: !empty(signingKeyVaultName) && !empty(signingKeyName)
  evidenceContainer: !empty(evidenceStorageAccountName) && !empty(evidenceContainerName)
}

var active = filter(assignments, x => enabledTargets[x.target])

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: empty(communicationServiceName) ? 'unused' : communicationServiceName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: empty(keyVaultName) ? 'unused' : keyVaultName
}

resource signingVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: empty(signingKeyVaultName) ? 'unused' : signingKeyVaultName

  resource key 'keys' existing = {
    name: empty(signingKeyName) ? 'unused' : signingKeyName
  }
}

resource evidenceStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: empty(evidenceStorageAccountName) ? 'unused' : evidenceStorageAccountName

  resource blobServices 'blobServices' existing = {
    name: 'default'

    resource container 'containers' existing = {
      name: empty(evidenceContainerName) ? 'unused' : evidenceContainerName
    }
  }
}

// Bicep needs a resource symbol as scope, so the list is split by target; each loop has the same shape.
resource storageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(active, x => x.target == 'storage' || x.target == 'storageQueue'): {
    name: guid(storage.id, principalId, a.role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'aks-fips-auditor: ${a.why}'
    }
  }
]

resource applicationInsightsAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(active, x => x.target == 'applicationInsights'): {
    name: guid(applicationInsights.id, principalId, a.role)
    scope: applicationInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'aks-fips-auditor: ${a.why}'
    }
  }
]

resource communicationAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(active, x => x.target == 'communication'): {
    name: guid(communication.id, principalId, a.role)
    scope: communication
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'aks-fips-auditor: ${a.why}'
    }
  }
]

resource keyVaultAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(active, x => x.target == 'keyVault'): {
    name: guid(keyVault.id, principalId, a.role)
    scope: keyVault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'aks-fips-auditor: ${a.why}'
    }
  }
]

resource signingKeyAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(active, x => x.target == 'signingKey'): {
    name: guid(signingVault::key.id, principalId, a.role)
    scope: signingVault::key
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'aks-fips-auditor: ${a.why}'
    }
  }
]

resource evidenceContainerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(active, x => x.target == 'evidenceContainer'): {
    name: guid(evidenceStorage::blobServices::container.id, principalId, a.role)
    scope: evidenceStorage::blobServices::container
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'aks-fips-auditor: ${a.why}'
    }
  }
]

@description('The assignments made, for the deployment record: target and role ID.')
output ASSIGNED_ROLES array = [for a in active: { target: a.target, roleDefinitionId: a.role }]
