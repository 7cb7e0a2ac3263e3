// Key Vault for the SMTP password only, RBAC-authorized (no access policies), read through a Key Vault reference.

@description('Required. Key Vault name (3-24 letters, digits and hyphens, globally unique).')
param name string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the vault.')
param tags object = {}

@description('Optional. Name of the secret that holds the SMTP password.')
param smtpPasswordSecretName string = 'smtp-password'

@secure()
@description('Optional. SMTP password to store; empty leaves the secret to be set later with `az keyvault secret set`.')
param smtpPassword string = ''

@description('Optional. True to refuse public network access (the app then needs VNet integration and a private endpoint).')
param disablePublicNetworkAccess bool = false

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: disablePublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: disablePublicNetworkAccess ? 'Deny' : 'Allow'
    }
  }
}

resource smtpPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  parent: vault
  name: smtpPasswordSecretName
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

@description('Key Vault name.')
output NAME string = vault.name

@description('Versionless URI of the SMTP password secret, so a rotated password is picked up without a redeploy.')
output SMTP_PASSWORD_SECRET_URI string = '${vault.properties.vaultUri}secrets/${smtpPasswordSecretName}'
