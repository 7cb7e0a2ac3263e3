// Key Vault for the SMTP password (read through a Key Vault reference) and the evidence signing key, RBAC-authorized.

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

@description('Optional. Name of an EC P-256 key created here to sign each run\'s chain digest (ES256); empty for none.')
param signingKeyName string = ''

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

// Never leaves the vault: the app may only sign with it (Key Vault Crypto User on this key alone) and read its public part.
resource signingKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = if (!empty(signingKeyName)) {
  parent: vault
  name: empty(signingKeyName) ? 'unused' : signingKeyName
  properties: {
    kty: 'EC'
    curveName: 'P-256'
    keyOps: [
      'sign'
      'verify'
    ]
    attributes: {
      exportable: false
    }
  }
}

@description('Key Vault name.')
output NAME string = vault.name

@description('The signing key\'s identifier with its version (AUDIT_SIGNING_KEY_ID); empty without one.')
output SIGNING_KEY_ID string = empty(signingKeyName) ? '' : signingKey!.properties.keyUriWithVersion

@description('Versionless URI of the SMTP password secret, so a rotated password is picked up without a redeploy.')
output SMTP_PASSWORD_SECRET_URI string = '${vault.properties.vaultUri}secrets/${smtpPasswordSecretName}'
