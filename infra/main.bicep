// aks-fips-auditor: the whole app in one subscription-scope deployment (`azd up`, or `az deployment sub create`).
// Composes modules only. Defaults follow the cloud it is deployed to (environment().name): Flex Consumption
// and ACS Email in AzureCloud; an App Service plan and SMTP (or no mail) in Azure Government. See infra/README.md.

targetScope = 'subscription'

// ---------------------------------------------------------------- where and what

@minLength(1)
@maxLength(64)
@description('Required. Environment name (azd): names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Required. Azure region for every regional resource, e.g. eastus2 or usgovvirginia.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Optional. Resource group name; empty for rg-<environmentName>.')
param resourceGroupName string = ''

@description('Optional. Tags added to every resource.')
param tags object = {}

// ---------------------------------------------------------------- what to audit

@description('Optional. Comma-separated subscription IDs to audit (AUDIT_SUBSCRIPTIONS); each gets a Reader assignment for the app. Empty, with no management groups, audits (and grants Reader on) the deployment subscription.')
param auditSubscriptions string = ''

@description('Optional. Comma-separated management group IDs to audit (AUDIT_MANAGEMENT_GROUPS). Reader on them is granted separately: infra/modules/readerAtManagementGroup.bicep, see infra/README.md.')
param auditManagementGroups string = ''

@description('Optional. NCRONTAB (6 fields) of the daily audit (AUDIT_SCHEDULE), in UTC.')
param auditSchedule string = '0 0 6 * * *'

@description('Optional. Prefix of every table the auditor creates (AUDIT_TABLE_PREFIX).')
param auditTablePrefix string = 'fipsaudit'

@description('Optional. Days a FIPS node image may fall behind the latest (AUDIT_NODE_IMAGE_MAX_AGE_DAYS).')
@minValue(1)
@maxValue(3650)
param nodeImageMaxAgeDays int = 30

@description('Optional. How many days ahead an exemption\'s mandatory expiresOn may be (AUDIT_EXEMPTION_MAX_DAYS).')
@minValue(1)
@maxValue(3650)
param exemptionMaxDays int = 180

@description('Optional. off, or subscriptions to split each audit into shards of subscriptions that the pipeline queue\'s workers audit in parallel across instances (AUDIT_SHARDING; docs/performance.md).')
@allowed(['off', 'subscriptions'])
param auditSharding string = 'off'

@description('Optional. Subscriptions per shard when auditSharding is subscriptions (AUDIT_SHARD_SIZE).')
@minValue(1)
@maxValue(800)
param auditShardSize int = 500

// ---------------------------------------------------------------- hosting

@description('Optional. FlexConsumption or AppServicePlan; empty picks FlexConsumption in AzureCloud and AppServicePlan elsewhere.')
@allowed(['', 'FlexConsumption', 'AppServicePlan'])
param hostingPlan string = ''

@description('Optional. Node.js major version of the Function App (the SDKs the app uses need Node 22).')
@allowed(['22'])
param nodeVersion string = '22'

@description('Optional. Flex Consumption instance memory in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Optional. Flex Consumption scale-out limit.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Optional. SKU of the dedicated plan when the hosting plan is AppServicePlan.')
param appServicePlanSku string = 'B1'

@description('Optional. Storage replication SKU.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param storageSkuName string = 'Standard_LRS'

@description('Optional. Days Log Analytics keeps the app\'s logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

// ---------------------------------------------------------------- email

@description('Optional. acs, smtp or none; empty picks acs in AzureCloud, and smtp (when smtpHost is set) or none elsewhere.')
@allowed(['', 'acs', 'smtp', 'none'])
param emailProvider string = ''

@description('Optional. Comma-separated recipients of the digest (EMAIL_TO); empty turns mail off.')
param emailTo string = ''

@description('Optional. Comma-separated addresses and @domain entries that POST /api/runs/{runId}/email may also send to (EMAIL_ALLOWED_RECIPIENTS); empty allows only emailTo.')
param emailAllowedRecipients string = ''

@description('Optional. always, changes or off (EMAIL_MODE).')
@allowed(['always', 'changes', 'off'])
param emailMode string = 'always'

@description('Optional. Sender address (EMAIL_SENDER); required for smtp, and overrides DoNotReply@<ACS domain> for acs.')
param emailSender string = ''

@description('Optional. ACS data location; empty picks \'United States\' (or \'usgov\' in Azure Government).')
param acsDataLocation string = ''

@description('Optional. Custom ACS sender domain; empty for an Azure-managed domain.')
param emailCustomDomain string = ''

@description('Optional. True once the custom domain\'s DNS records are verified, to link it to ACS.')
param emailCustomDomainVerified bool = false

@description('Optional. SMTP server host name (SMTP_HOST), for emailProvider smtp.')
param smtpHost string = ''

@description('Optional. SMTP server port (SMTP_PORT); 587 is STARTTLS submission.')
param smtpPort int = 587

@description('Optional. SMTP user name (SMTP_USER).')
param smtpUser string = ''

@secure()
@description('Optional. SMTP password, stored in Key Vault; empty to set the secret later with az keyvault secret set.')
param smtpPassword string = ''

// ---------------------------------------------------------------- evidence (docs/evidence.md)

@description('Optional. True to sign each run\'s chain digest with an EC P-256 key created in the app\'s Key Vault (AUDIT_SIGNING_KEY_ID); the app gets Key Vault Crypto User on that key only.')
param enableEvidenceSigning bool = false

@description('Optional. True to write each completed run\'s evidence bundle to a WORM container in a storage account of its own (AUDIT_EVIDENCE_CONTAINER); the app gets Storage Blob Data Contributor on that container only.')
param enableEvidenceRetention bool = false

@description('Optional. Days each evidence bundle stays immutable (AUDIT_EVIDENCE_RETENTION_DAYS), from 1 to 146000.')
@minValue(1)
@maxValue(146000)
param evidenceRetentionDays int = 365

// ---------------------------------------------------------------- hardening

@description('Optional. True to require an Entra ID token (App Service Authentication) on every HTTP route except /api/health, reads included; each route also needs its app role, Reports.Read, Audits.Run, Reports.Send or Exemptions.Write (infra/README.md says how to define and assign them).')
param enableAppServiceAuth bool = false

@description('Optional. Client ID of the Entra ID app registration callers request tokens for; required with enableAppServiceAuth.')
param authClientId string = ''

@description('Optional. Public IPv4 addresses or CIDR ranges allowed to call the app; empty allows all.')
param allowedIpRanges string[] = []

@description('Optional. True for VNet integration and private endpoints (blob, table), with public access to storage turned off.')
param enablePrivateNetworking bool = false

@description('Optional. Address space of the VNet when enablePrivateNetworking is true.')
param vnetAddressPrefix string = '10.90.0.0/16'

@description('Optional. How the app reaches Resource Graph, ARM, Entra ID, Application Insights and ACS with enablePrivateNetworking: natGateway (a NAT gateway with a static public IP on the app subnet) or none (you attach a route to your own firewall; infra/README.md lists what to allow).')
@allowed(['natGateway', 'none'])
param privateNetworkEgress string = 'natGateway'

@description('Optional. Public base URL of the API for links in emails (REPORT_BASE_URL); empty for the app\'s default host name.')
param reportBaseUrl string = ''

// ---------------------------------------------------------------- derived

var auditSubscriptionIds = filter(map(split(auditSubscriptions, ','), id => trim(id)), id => !empty(id))
var auditManagementGroupIds = filter(map(split(auditManagementGroups, ','), id => trim(id)), id => !empty(id))
var cloudName = environment().name
var isPublicCloud = cloudName == 'AzureCloud'
var effectiveHostingPlan = !empty(hostingPlan) ? hostingPlan : (isPublicCloud ? 'FlexConsumption' : 'AppServicePlan')
var effectiveEmailProvider = !empty(emailProvider)
  ? emailProvider
  : (isPublicCloud ? 'acs' : (empty(smtpHost) ? 'none' : 'smtp'))
var effectiveEmailMode = effectiveEmailProvider == 'none' || empty(emailTo) ? 'off' : emailMode
var effectiveAcsDataLocation = !empty(acsDataLocation)
  ? acsDataLocation
  : (cloudName == 'AzureUSGovernment' ? 'usgov' : 'United States')
var useAcs = effectiveEmailProvider == 'acs'
var useSmtp = effectiveEmailProvider == 'smtp'

// With no scope given, audit the subscription the app is deployed to rather than nothing.
var readerSubscriptionIds = empty(auditSubscriptionIds) && empty(auditManagementGroupIds)
  ? [subscription().subscriptionId]
  : auditSubscriptionIds

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var allTags = union(tags, { 'azd-env-name': environmentName })
var deploymentContainerName = 'app-package-${take(resourceToken, 8)}'
var evidenceSigningKeyName = 'audit-chain'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: allTags
}

// ---------------------------------------------------------------- resources

module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentity}fips-auditor-${resourceToken}'
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageAccount}${resourceToken}'
    location: location
    tags: allTags
    skuName: storageSkuName
    deploymentContainerName: effectiveHostingPlan == 'FlexConsumption' ? deploymentContainerName : ''
    disablePublicNetworkAccess: enablePrivateNetworking
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalyticsWorkspace}${resourceToken}'
    applicationInsightsName: '${abbrs.applicationInsights}${resourceToken}'
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
  }
}

module communication 'modules/communication.bicep' = if (useAcs) {
  name: 'communication'
  scope: rg
  params: {
    communicationServiceName: '${abbrs.communicationService}${resourceToken}'
    emailServiceName: '${abbrs.emailCommunicationService}${resourceToken}'
    dataLocation: effectiveAcsDataLocation
    customDomain: emailCustomDomain
    customDomainVerified: emailCustomDomainVerified
    tags: allTags
  }
}

module keyVault 'modules/keyVault.bicep' = if (useSmtp || enableEvidenceSigning) {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVault}${resourceToken}'
    location: location
    tags: allTags
    smtpPassword: smtpPassword
    signingKeyName: enableEvidenceSigning ? evidenceSigningKeyName : ''
  }
}

module evidenceStorage 'modules/evidenceStorage.bicep' = if (enableEvidenceRetention) {
  name: 'evidenceStorage'
  scope: rg
  params: {
    name: '${abbrs.storageAccount}ev${resourceToken}'
    location: location
    tags: allTags
    skuName: storageSkuName
    retentionDays: evidenceRetentionDays
  }
}

module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.virtualNetwork}${resourceToken}'
    location: location
    tags: allTags
    addressPrefix: vnetAddressPrefix
    storageAccountId: storage.outputs.RESOURCE_ID
    appSubnetDelegation: effectiveHostingPlan == 'FlexConsumption' ? 'Microsoft.App/environments' : 'Microsoft.Web/serverFarms'
    natGateway: privateNetworkEgress == 'natGateway'
  }
}

// ---------------------------------------------------------------- app settings (names are the app's: src/config.ts)

// Every setting the auditor reads is set here or listed, with its reason, in infra/settings.optional.json.
var auditAppSettings = {
  AZURE_CLOUD: cloudName
  AZURE_CLIENT_ID: identity.outputs.clientId
  AUDIT_SUBSCRIPTIONS: join(auditSubscriptionIds, ',')
  AUDIT_MANAGEMENT_GROUPS: join(auditManagementGroupIds, ',')
  AUDIT_SCHEDULE: auditSchedule
  AUDIT_TABLES_ENDPOINT: storage.outputs.AUDIT_TABLES_ENDPOINT
  AUDIT_TABLE_PREFIX: auditTablePrefix
  AUDIT_NODE_IMAGE_MAX_AGE_DAYS: string(nodeImageMaxAgeDays)
  AUDIT_EXEMPTION_MAX_DAYS: string(exemptionMaxDays)
  AUDIT_SHARDING: auditSharding
  AUDIT_SHARD_SIZE: string(auditShardSize)
  EMAIL_TO: emailTo
  EMAIL_ALLOWED_RECIPIENTS: emailAllowedRecipients
  EMAIL_MODE: effectiveEmailMode
  AUDIT_SIGNING_KEY_ID: enableEvidenceSigning ? keyVault!.outputs.SIGNING_KEY_ID : ''
  AUDIT_EVIDENCE_CONTAINER: enableEvidenceRetention ? evidenceStorage!.outputs.AUDIT_EVIDENCE_CONTAINER : ''
  AUDIT_EVIDENCE_RETENTION_DAYS: string(evidenceRetentionDays)
}

// The pipeline queue connection AUDIT_QUEUE, by identity: every audit's plan and shards go through it (the app
// refuses to start without it). The Functions queue trigger reads the same settings and, without __credential and
// __clientId, would connect as the system-assigned identity, which this app does not have ("Common properties for
// identity-based connections", learn.microsoft.com/azure/azure-functions/functions-reference); the app's own queue
// client honours them too (src/pipeline/pipelineQueue.ts).
var pipelineQueueAppSettings = {
  AUDIT_QUEUE__queueServiceUri: storage.outputs.QUEUE_ENDPOINT
  AUDIT_QUEUE__credential: 'managedidentity'
  AUDIT_QUEUE__clientId: identity.outputs.clientId
}

// Read by the Functions host, not the app: V8 gets the heap the audit was measured with (512 MB, a quarter of
// the 2,048 MB instance) whatever memory it sees, which keeps its peak RSS under 512 MB (docs/performance.md).
var hostAppSettings = {
  languageWorkers__node__arguments: '--max-old-space-size=512'
}

var emailAcsAppSettings = {
  EMAIL_ENDPOINT: useAcs ? communication!.outputs.EMAIL_ENDPOINT : ''
  EMAIL_SENDER: !empty(emailSender) ? emailSender : (useAcs ? communication!.outputs.EMAIL_SENDER : '')
}

// The password is never an app setting value: the platform resolves the Key Vault reference with the app's identity.
var emailSmtpAppSettings = {
  EMAIL_SENDER: emailSender
  SMTP_HOST: smtpHost
  SMTP_PORT: string(smtpPort)
  SMTP_USER: smtpUser
  SMTP_PASSWORD: useSmtp ? '@Microsoft.KeyVault(SecretUri=${keyVault!.outputs.SMTP_PASSWORD_SECRET_URI})' : ''
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: '${abbrs.functionApp}fips-${resourceToken}'
    planName: '${abbrs.appServicePlan}${resourceToken}'
    location: location
    tags: allTags
    hostingPlan: effectiveHostingPlan
    appServicePlanSku: appServicePlanSku
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.NAME
    storageBlobEndpoint: storage.outputs.BLOB_ENDPOINT
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.APPLICATIONINSIGHTS_CONNECTION_STRING
    appSettings: union(
      auditAppSettings,
      hostAppSettings,
      useAcs ? emailAcsAppSettings : {},
      useSmtp ? emailSmtpAppSettings : {},
      pipelineQueueAppSettings
    )
    reportBaseUrl: reportBaseUrl
    subnetId: enablePrivateNetworking ? network!.outputs.APP_SUBNET_ID : ''
    allowedIpRanges: allowedIpRanges
    enableAppServiceAuth: enableAppServiceAuth
    authClientId: authClientId
  }
  // Roles first, so the host's first start can reach storage and Key Vault.
  dependsOn: [
    rbac
  ]
}

// ---------------------------------------------------------------- identity and roles

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.NAME
    applicationInsightsName: monitoring.outputs.APPLICATIONINSIGHTS_NAME
    communicationServiceName: useAcs ? communication!.outputs.NAME : ''
    keyVaultName: useSmtp ? keyVault!.outputs.NAME : ''
    signingKeyVaultName: enableEvidenceSigning ? keyVault!.outputs.NAME : ''
    signingKeyName: enableEvidenceSigning ? evidenceSigningKeyName : ''
    evidenceStorageAccountName: enableEvidenceRetention ? evidenceStorage!.outputs.NAME : ''
    evidenceContainerName: enableEvidenceRetention ? evidenceStorage!.outputs.CONTAINER_NAME : ''
  }
}

module readerAtSubscription 'modules/readerAtSubscription.bicep' = [
  for subscriptionId in readerSubscriptionIds: {
    name: 'reader-${take(uniqueString(subscriptionId, environmentName), 8)}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.outputs.principalId
    }
  }
]

// ---------------------------------------------------------------- outputs (azd stores them in .azure/<env>/.env)

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CLOUD string = cloudName
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AUDIT_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AUDIT_TABLES_ENDPOINT string = storage.outputs.AUDIT_TABLES_ENDPOINT
output DEPLOYED_EMAIL_PROVIDER string = effectiveEmailProvider
output EMAIL_ENDPOINT string = useAcs ? communication!.outputs.EMAIL_ENDPOINT : ''
output EMAIL_SENDER string = useAcs || useSmtp ? (!empty(emailSender) ? emailSender : (useAcs ? communication!.outputs.EMAIL_SENDER : '')) : ''
output DEPLOYED_HOSTING_PLAN string = effectiveHostingPlan
output AUDIT_SIGNING_KEY_ID string = enableEvidenceSigning ? keyVault!.outputs.SIGNING_KEY_ID : ''
output AUDIT_EVIDENCE_CONTAINER string = enableEvidenceRetention ? evidenceStorage!.outputs.AUDIT_EVIDENCE_CONTAINER : ''
output REPORT_BASE_URL string = functionApp.outputs.REPORT_BASE_URL
output SERVICE_API_NAME string = functionApp.outputs.NAME
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.NAME
output NAT_PUBLIC_IP string = enablePrivateNetworking ? network!.outputs.NAT_PUBLIC_IP : ''
