// The bot's identity in Microsoft Entra ID: a single-tenant app registration, its service principal,
// and one credential: a federated identity credential that trusts the function app's user-assigned
// managed identity. No secret or certificate exists. Teams needs an app registration (not a managed
// identity) for resource-specific consent and Microsoft Graph application permissions; the app signs
// in as it with botbuilder's federated credentials (shared/botFramework.ts). Created through Microsoft
// Graph by the Microsoft Graph Bicep extension (infra/bicepconfig.json), as whoever runs
// `azd provision`; docs/deploy.md says which Entra permission that takes.
extension microsoftGraphV1

@description('Alternate key of the app registration: stable per deployment, unique in the tenant.')
param uniqueName string

param displayName string

@description('Object (principal) ID of the user-assigned managed identity the app trusts.')
param managedIdentityPrincipalId string

@description('Object ID of whoever runs `azd provision`, made an owner so that they can update the registration next time. Empty: none.')
param ownerId string = ''

// Trusting a managed identity (learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity):
// the issuer is the tenant's authority, the subject the identity's object (principal) ID, and the
// audience Microsoft Entra ID's token exchange (global service).
var federatedIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
var federatedAudience = 'api://AzureADTokenExchange'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  owners: { relationships: empty(ownerId) ? [] : [ownerId] }
  // What later releases add here: the Microsoft Graph application permissions the bot asks for
  // (requiredResourceAccess, e.g. User.Read.All; granted by Microsoft.Graph/appRoleAssignedTo on
  // servicePrincipal below, once, with admin rights), and the producers' app roles with an App ID
  // URI (appRoles, identifierUris). Every ID such an entry names comes from Microsoft's published
  // list, which test/microsoft-constants.test.ts checks.

  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${app.uniqueName}/function-app-identity'
    description: 'The Teams Notifier function app signs in as the bot with its user-assigned managed identity'
    issuer: federatedIssuer
    subject: managedIdentityPrincipalId
    audiences: [federatedAudience]
  }
}

// Tokens are issued in this tenant only to an app with a service principal here.
resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

// Taken from the service principal so that whatever uses the app ID waits for both.
output appId string = servicePrincipal.appId
output servicePrincipalId string = servicePrincipal.id
