// Reader on one audited management group (or the tenant root group) for the auditor identity.
// A subscription-scope deployment cannot deploy to a management group, so this is deployed on its own:
//   az deployment mg create --management-group-id <mg> --location <region> \
//     --template-file infra/modules/readerAtManagementGroup.bicep --parameters principalId=<AUDIT_IDENTITY_PRINCIPAL_ID>

targetScope = 'managementGroup'

import { builtInRoles } from 'roles.bicep'

@description('Required. Principal (object) ID of the auditor\'s user-assigned managed identity (output AUDIT_IDENTITY_PRINCIPAL_ID of main.bicep).')
param principalId string

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, principalId, builtInRoles.reader)
  properties: {
    // At management-group scope a built-in role is addressed by its tenant-level ID.
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'aks-fips-auditor: read AKS clusters through Resource Graph'
  }
}
