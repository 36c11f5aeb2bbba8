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

@description('The app\'s ID in the organization\'s Teams app catalog (TEAMS_APP_CATALOG_ID). Empty: the app looks it up by the manifest ID, which takes AppCatalog.Read.All.')
param teamsAppCatalogId string = ''

@description('Grant the Microsoft Graph application permissions in this deployment (whoever runs azd must be a Privileged Role Administrator or Global Administrator). false: an administrator grants admin consent once (docs/deploy.md).')
param grantGraphPermissions bool = false

// Microsoft Graph's application ID, the same in every tenant (microsoftgraph/msgraph-bicep-types
// quickstart-templates/apps-permissions-and-grants/main.bicep, `graphAppId`).
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// The Microsoft Graph application permissions the bot needs, least privilege (docs/graph.md
// "Permissions"): each is the least privileged one its API's page lists for application access,
// and its ID is Microsoft's (permissions-reference, "All permissions and IDs"), which
// test/microsoft-constants.test.ts checks. User.Read.All, not User.ReadBasic.All: the basic profile
// has no accountEnabled or userType, which decide disabled accounts and guests.
var graphPermissions = {
  'User.Read.All': 'df021288-bdef-4463-88db-98f22de89214'
  'GroupMember.Read.All': '98830695-27a2-44f7-8c18-0c3ebc9698f6'
  'TeamsAppInstallation.ReadWriteSelfForUser.All': '908de74d-f8b2-4d6b-a9ed-2a17b3b78179'
  'AppCatalog.Read.All': 'e12dae10-5a57-4817-b79d-dfbec5348930'
}
// The catalog lookup is needed only without TEAMS_APP_CATALOG_ID.
var neededPermissions = empty(teamsAppCatalogId)
  ? ['User.Read.All', 'GroupMember.Read.All', 'TeamsAppInstallation.ReadWriteSelfForUser.All', 'AppCatalog.Read.All']
  : ['User.Read.All', 'GroupMember.Read.All', 'TeamsAppInstallation.ReadWriteSelfForUser.All']

// Trusting a managed identity (learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity):
// the issuer is the tenant's authority, the subject the identity's object (principal) ID, and the
// audience Microsoft Entra ID's token exchange (global service).
var federatedIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
var federatedAudience = 'api://AzureADTokenExchange'

// The producers' app roles (shared/auth/roles.ts), granted to their managed identities or apps
// (docs/deploy.md, "Producers"). An app role's `id` is chosen by the app that defines it ("You must
// specify a new GUID identifier when you create a new app role": Microsoft Graph's appRole resource,
// learn.microsoft.com/graph/api/resources/approle): these are Teams Notifier's own, generated once
// and never changed, since assignments name them. test/microsoft-constants.test.ts accepts them as
// ours only here, as app role IDs, and checks that no ID of Microsoft's hides among them.
var ownAppRoleIds = {
  'Notifications.Send': '01f0af30-3ee2-4178-b666-a4fa6ed9735f'
  'Notifications.Read': '66d09dab-44c6-4088-af3c-9f99ab0f521b'
  'Notifications.Admin': '14209c7a-6561-48c4-9a96-d9531b5390cc'
}
var producerRoles = [
  {
    value: 'Notifications.Send'
    displayName: 'Send notifications'
    description: 'Send notification jobs, and update and recall the jobs it sent.'
  }
  {
    value: 'Notifications.Read'
    displayName: 'Read notification status'
    description: 'Read the status of the jobs it sent.'
  }
  {
    value: 'Notifications.Admin'
    displayName: 'Administer notifications'
    description: 'Read, update and recall every job, whoever sent it.'
  }
]

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  owners: { relationships: empty(ownerId) ? [] : [ownerId] }
  // The permissions it asks for: what "Grant admin consent" (or `az ad app permission admin-consent`)
  // grants in one step when grantGraphPermissions is false. Every ID comes from Microsoft's published
  // list, which test/microsoft-constants.test.ts checks.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [for name in neededPermissions: { id: graphPermissions[name], type: 'Role' }]
    }
  ]
  // Producers' tokens are v2.0 (issuer https://login.microsoftonline.com/<tenant>/v2.0), the only
  // kind the app accepts (shared/auth/entraTokens.ts). The App ID URI: identifier-uri.bicep.
  api: { requestedAccessTokenVersion: 2 }
  appRoles: [
    for role in producerRoles: {
      id: ownAppRoleIds[role.value]
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: ['Application']
      isEnabled: true
    }
  ]

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

// The App ID URI producers ask tokens for names the app's own ID, which exists only once the app
// does: a second upsert of the same registration (by uniqueName) adds it.
module identifierUri 'identifier-uri.bicep' = {
  name: 'teams-notifier-bot-identifier-uri'
  params: {
    uniqueName: uniqueName
    displayName: displayName
    appId: app.appId
  }
}

// Microsoft Graph's own service principal in this tenant: the resource the permissions are on.
resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Granting an application permission is an app role assignment to the bot's service principal
// (Microsoft Graph Bicep types: Microsoft.Graph/appRoleAssignedTo: appRoleId, principalId,
// resourceId), admin consent in effect; only a Privileged Role Administrator or Global
// Administrator may make it, hence the parameter.
resource graphGrants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for name in neededPermissions: if (grantGraphPermissions) {
    appRoleId: graphPermissions[name]
    principalId: servicePrincipal.id
    resourceId: microsoftGraph.id
  }
]

// Taken from the service principal so that whatever uses the app ID waits for both.
output appId string = servicePrincipal.appId
output servicePrincipalId string = servicePrincipal.id
