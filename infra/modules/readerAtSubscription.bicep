// Reader on one audited subscription for the auditor identity: deployed once per subscription by main.bicep.

targetScope = 'subscription'

import { builtInRoles } from 'roles.bicep'

@description('Required. Principal (object) ID of the auditor\'s user-assigned managed identity.')
param principalId string

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, builtInRoles.reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'aks-fips-auditor: read AKS clusters through Resource Graph'
  }
}
