// Log Analytics workspace and workspace-based Application Insights, with local (key) ingestion disabled.
// Composes Azure Verified Modules, pinned; the versions and their parameters are those of
// Azure-Samples/functions-quickstart-typescript-azd.

@description('Required. Log Analytics workspace name.')
param logAnalyticsName string

@description('Required. Application Insights component name.')
param applicationInsightsName string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for both resources.')
param tags object = {}

@description('Optional. Days the workspace keeps logs (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  params: {
    name: logAnalyticsName
    location: location
    tags: tags
    dataRetention: retentionInDays
  }
}

module applicationInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'applicationInsights'
  params: {
    name: applicationInsightsName
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Ingestion only with an Entra ID token (Monitoring Metrics Publisher), never with the instrumentation key alone.
    disableLocalAuth: true
  }
}

@description('Application Insights component name.')
output APPLICATIONINSIGHTS_NAME string = applicationInsights.outputs.name

@description('Application Insights connection string: an address, not a secret, since local auth is disabled.')
output APPLICATIONINSIGHTS_CONNECTION_STRING string = applicationInsights.outputs.connectionString

@description('Log Analytics workspace resource ID.')
output LOG_ANALYTICS_WORKSPACE_ID string = logAnalytics.outputs.resourceId
