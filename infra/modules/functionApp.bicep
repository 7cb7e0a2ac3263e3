// The Function App (Node 22, Linux) on Flex Consumption, or on an App Service plan where Flex is not offered,
// running as the user-assigned identity; every connection it makes is by identity, none by key.

@description('Required. Function App name (globally unique; becomes <name>.azurewebsites.net or the cloud\'s equivalent).')
param name string

@description('Required. Hosting plan name.')
param planName string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the plan and the app (the app also gets azd-service-name: api).')
param tags object = {}

@description('Optional. FlexConsumption (serverless, the default) or AppServicePlan (a dedicated Linux plan, for clouds or regions without Flex Consumption).')
@allowed(['FlexConsumption', 'AppServicePlan'])
param hostingPlan string = 'FlexConsumption'

@description('Optional. SKU of the dedicated plan when hostingPlan is AppServicePlan (B1 is the smallest with Always On, which the timer needs).')
param appServicePlanSku string = 'B1'

@description('Optional. Node.js major version of the worker.')
@allowed(['22'])
param nodeVersion string = '22'

@description('Optional. Flex Consumption instance memory in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Optional. Flex Consumption scale-out limit.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Required. Resource ID of the user-assigned managed identity the app runs as.')
param identityResourceId string

@description('Required. Client ID of that identity.')
param identityClientId string

@description('Required. Name of the storage account used as AzureWebJobsStorage.')
param storageAccountName string

@description('Required. Blob endpoint of that account (with the trailing slash), e.g. https://<account>.blob.core.windows.net/.')
param storageBlobEndpoint string

@description('Optional. Blob container for the Flex Consumption deployment package; required when hostingPlan is FlexConsumption.')
param deploymentContainerName string = ''

@description('Required. Application Insights connection string (an address; ingestion needs an Entra ID token).')
param applicationInsightsConnectionString string

@description('Required. The auditor\'s own settings (AUDIT_*, AZURE_*, EMAIL_*, SMTP_*), built by main.bicep.')
param appSettings object

@description('Optional. Public base URL of the API for links in emails; empty for https://<default host name>.')
param reportBaseUrl string = ''

@description('Optional. Resource ID of a subnet for outbound VNet integration; empty for none.')
param subnetId string = ''

@description('Optional. Public IPv4 addresses or CIDR ranges allowed to call the app; empty allows all.')
param allowedIpRanges string[] = []

@description('Optional. True to put App Service Authentication (Entra ID) in front of the HTTP API.')
param enableAppServiceAuth bool = false

@description('Optional. Client (application) ID of the Entra ID app registration that callers request tokens for; required with enableAppServiceAuth.')
param authClientId string = ''

@description('Optional. Paths that stay reachable without a token when App Service Authentication is on (the contract\'s anonymous health check).')
param authExcludedPaths string[] = ['/api/health']

var isFlex = hostingPlan == 'FlexConsumption'
var isPublicCloud = environment().name == 'AzureCloud'
var blobHost = replace(replace(storageBlobEndpoint, 'https://', ''), '/', '')

// AzureWebJobsStorage by identity. __accountName infers *.core.windows.net, so other clouds name each service URI.
var hostStorageAppSettings = isPublicCloud
  ? {
      AzureWebJobsStorage__accountName: storageAccountName
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
    }
  : {
      AzureWebJobsStorage__blobServiceUri: 'https://${blobHost}'
      AzureWebJobsStorage__queueServiceUri: 'https://${replace(blobHost, '.blob.', '.queue.')}'
      AzureWebJobsStorage__tableServiceUri: 'https://${replace(blobHost, '.blob.', '.table.')}'
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
    }

var monitoringAppSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
}

// Flex Consumption takes runtime and deployment from functionAppConfig and rejects these; a dedicated plan needs them.
var appServicePlanPlatformAppSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  WEBSITE_RUN_FROM_PACKAGE: '1'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'linux'
  sku: isFlex
    ? {
        name: 'FC1'
        tier: 'FlexConsumption'
      }
    : {
        name: appServicePlanSku
      }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    // Key Vault references resolve with the user-assigned identity, not a system-assigned one.
    keyVaultReferenceIdentity: identityResourceId
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      alwaysOn: isFlex ? null : true
      linuxFxVersion: isFlex ? null : 'Node|${nodeVersion}'
      vnetRouteAllEnabled: empty(subnetId) ? null : true
      ipSecurityRestrictionsDefaultAction: empty(allowedIpRanges) ? 'Allow' : 'Deny'
      ipSecurityRestrictions: [
        for (ip, i) in allowedIpRanges: {
          name: 'allowed-${i}'
          ipAddress: contains(ip, '/') ? ip : '${ip}/32'
          action: 'Allow'
          priority: 100 + i
        }
      ]
      scmIpSecurityRestrictionsUseMain: true
    }
    functionAppConfig: isFlex
      ? {
          deployment: {
            storage: {
              type: 'blobContainer'
              value: '${storageBlobEndpoint}${deploymentContainerName}'
              authentication: {
                type: 'UserAssignedIdentity'
                userAssignedIdentityResourceId: identityResourceId
              }
            }
          }
          scaleAndConcurrency: {
            instanceMemoryMB: instanceMemoryMB
            maximumInstanceCount: maximumInstanceCount
          }
          runtime: {
            name: 'node'
            version: nodeVersion
          }
        }
      : null
  }
}

var siteAppSettings = {
  REPORT_BASE_URL: empty(reportBaseUrl) ? 'https://${site.properties.defaultHostName}' : reportBaseUrl
}

resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(
    appSettings,
    siteAppSettings,
    hostStorageAppSettings,
    monitoringAppSettings,
    isFlex ? {} : appServicePlanPlatformAppSettings
  )
}

// Deployments authenticate with Entra ID (azd, func publish, az functionapp deploy); no FTP or basic-auth publishing.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// Bearer tokens for authClientId only; no client secret is needed to validate them. requireAuthentication covers
// every route, reads included, except authExcludedPaths. The app roles each route needs (src/http/routes.ts) live on
// the app registration, which ARM cannot create: infra/README.md has the az commands.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (enableAppServiceAuth) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: authExcludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            authClientId
            'api://${authClientId}'
          ]
        }
      }
    }
  }
}

@description('Function App name.')
output NAME string = site.name

@description('Public base URL of the app.')
output REPORT_BASE_URL string = siteAppSettings.REPORT_BASE_URL
