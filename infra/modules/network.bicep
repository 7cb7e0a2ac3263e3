// Optional private networking: a VNet for the app's outbound traffic, its NAT gateway, and private endpoints
// (blob, table, queue) so the storage account can refuse public access.

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

@description('Optional. True to give the app subnet a NAT gateway with a static public IP, its explicit outbound path to Resource Graph, ARM, Entra ID, Application Insights and ACS; false when a route of your own (a firewall) provides it.')
param natGateway bool = true

// The host uses blob; the audit uses table, and queue for its pipeline. File is not used, so it gets no endpoint.
var storageServices = ['blob', 'table', 'queue']

// The app routes all its traffic into the VNet (vnetRouteAllEnabled), and a subnet without default outbound
// access has no way out unless it is given one: Microsoft recommends a NAT gateway for explicit outbound
// connectivity (virtual-network/ip-services/default-outbound-access), and App Service uses one on the
// integration subnet (app-service/networking/nat-gateway-integration). Storage stays on private endpoints.
resource natPublicIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = if (natGateway) {
  name: '${name}-nat-ip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = if (natGateway) {
  name: '${name}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: natPublicIp.id
      }
    ]
  }
}

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
          // Private subnet: outbound only through the NAT gateway, or the route you attach.
          defaultOutboundAccess: false
          natGateway: natGateway ? { id: nat.id } : null
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
          defaultOutboundAccess: false
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

@description('Static public IP the app\'s outbound traffic leaves from (allow it on an SMTP relay or firewall); empty without the NAT gateway.')
output NAT_PUBLIC_IP string = natGateway ? natPublicIp!.properties.ipAddress : ''
