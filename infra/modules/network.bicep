// Optional private networking: a VNet for the app's outbound traffic and private endpoints (blob, table)
// so the storage account can refuse public access.

@description('Required. Virtual network name.')
param name string

@description('Required. Azure region.')
param location string

@description('Required. Resource ID of the storage account to reach privately.')
param storageAccountId string

@description('Required. Delegation of the app subnet: Microsoft.App/environments for Flex Consumption, Microsoft.Web/serverFarms for an App Service plan.')
@allowed(['Microsoft.App/environments', 'Microsoft.Web/serverFarms'])
param appSubnetDelegation string

@description('Optional. Address space of the VNet.')
param addressPrefix string = '10.90.0.0/16'

@description('Optional. Tags for every resource.')
param tags object = {}

// The host uses blob; the audit uses table. Queue and file are not used, so they get no endpoint.
var storageServices = ['blob', 'table']

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [addressPrefix]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          delegations: [
            {
              name: 'app'
              properties: {
                serviceName: appSubnetDelegation
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 2)
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for service in storageServices: {
    // environment() gives the cloud's suffix: core.windows.net, core.usgovcloudapi.net, ...
    name: 'privatelink.${service}.${environment().suffixes.storage}'
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (service, i) in storageServices: {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for (service, i) in storageServices: {
    name: '${name}-pe-${service}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: vnet.properties.subnets[1].id
      }
      privateLinkServiceConnections: [
        {
          name: service
          properties: {
            privateLinkServiceId: storageAccountId
            groupIds: [service]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (service, i) in storageServices: {
    parent: endpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: service
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]

@description('Resource ID of the subnet the Function App integrates with.')
output APP_SUBNET_ID string = vnet.properties.subnets[0].id
