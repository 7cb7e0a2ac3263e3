// Azure Communication Services with an Email Communication Service and one sender domain:
// Azure-managed (<guid>.azurecomm.net, no DNS work) by default, or a custom domain.

@description('Required. Communication Services resource name (globally unique).')
param communicationServiceName string

@description('Required. Email Communication Service name.')
param emailServiceName string

@description('Required. Where ACS stores data at rest: \'United States\', \'Europe\', ... in AzureCloud; \'usgov\' in Azure Government.')
param dataLocation string

@description('Optional. Custom sender domain (e.g. alerts.contoso.com); empty for an Azure-managed domain.')
param customDomain string = ''

@description('Optional. True once the custom domain\'s DNS records are verified: only a verified domain can be linked to ACS.')
param customDomainVerified bool = false

@description('Optional. Local part of the sender address.')
param senderUsername string = 'DoNotReply'

@description('Optional. Tags for all three resources.')
param tags object = {}

var useCustomDomain = !empty(customDomain)

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: useCustomDomain ? customDomain : 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: useCustomDomain ? 'CustomerManaged' : 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

// The Azure-managed domain comes with DoNotReply; a custom domain needs its sender declared.
resource sender 'Microsoft.Communication/emailServices/domains/senderUsernames@2023-04-01' = if (useCustomDomain) {
  parent: domain
  name: toLower(senderUsername)
  properties: {
    username: senderUsername
    displayName: 'AKS FIPS auditor'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: !useCustomDomain || customDomainVerified ? [domain.id] : []
  }
}

@description('Communication Services resource name.')
output NAME string = communication.name

@description('Endpoint the app sends mail to with its managed identity.')
output EMAIL_ENDPOINT string = 'https://${communication.properties.hostName}'

@description('Sender address of the linked domain.')
output EMAIL_SENDER string = '${senderUsername}@${useCustomDomain ? customDomain : domain.properties.mailFromSenderDomain}'

@description('DNS records to create for a custom domain before setting customDomainVerified (empty object for an Azure-managed domain).')
output CUSTOM_DOMAIN_VERIFICATION_RECORDS object = useCustomDomain ? domain.properties.verificationRecords : {}
