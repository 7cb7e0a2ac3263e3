// The only place a role definition ID appears: every built-in role the auditor's identity is given.
// IDs are the same in every cloud (Azure RBAC docs, "Understand role definitions"); each was checked
// against the Azure built-in roles reference, see infra/README.md#roles.

@export()
@description('Built-in role definition IDs (GUIDs) by role, for the auditor identity and nothing else.')
var builtInRoles = {
  // Read every managed cluster and subscription name through Resource Graph and ARM.
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  // The audit tables, and the Functions host's own tables.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // The Functions host (AzureWebJobsStorage: timer schedule status, locks) and the Flex deployment package.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Application Insights ingestion with Entra ID authentication (local auth disabled).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Sending mail through Azure Communication Services with the managed identity.
  communicationAndEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350'
  // Resolving the SMTP password Key Vault reference.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // The audit pipeline queue (the app creates it and sends; the queue trigger reads and deletes).
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Signing each run's chain digest with the one evidence signing key (scoped to that key).
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424'
  // Writing evidence bundles into the one WORM container (scoped to that container; its policy refuses deletes).
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}
