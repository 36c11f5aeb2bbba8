// Teams Notifier on Azure: `azd up` provisions this, then deploys the function app (docs/deploy.md).
// Subscription scope so that an empty subscription is enough: the resource group is made here.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource (a region that offers the Flex Consumption plan).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object ID of whoever runs `azd up`; gets send and read access for `npm run notify` / `npm run status`. Empty: none.')
param principalId string = ''

@description('Principal type of principalId: User for a person, ServicePrincipal for the deploy workflow.')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@description('Tenants whose activities and jobs are accepted (comma-separated). Default: this subscription\'s tenant only.')
param allowedTenantIds string = tenant().tenantId

@description('Most instances the function app scales out to. See infra/resources.bicep for why it is small.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@description('Email address that receives the alert rules\' notifications. Empty: the alerts fire with no receiver.')
param alertEmail string = ''

// A secret of this environment's own, so hashed user IDs cannot be reversed by hashing candidate IDs
// with a salt anyone could compute. No default: azd generates it on the first provision (the
// `generate` metadata of azd's Bicep provider, cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go,
// from crypto/rand), keeps it in the environment's config and passes the same value every time.
// main.parameters.json maps it to TELEMETRY_USER_ID_SALT so that `azd pipeline config` hands it to
// the deploy workflow as a repository secret of that name.
@secure()
@description('Salt of the hashed user IDs in telemetry (generated once by azd; see docs/deploy-workflow.md).')
@metadata({ azd: { type: 'generate', config: { length: 32, noSpecial: true } } })
param telemetryUserIdSalt string

@description('The app\'s ID in the organization\'s Teams app catalog, once published (docs/deploy.md). Empty: the app looks it up by the manifest ID.')
param teamsAppCatalogId string = ''

@description('Grant the Microsoft Graph application permissions in this deployment: only when whoever runs azd is a Privileged Role Administrator or Global Administrator. Otherwise an administrator consents once (docs/deploy.md).')
param grantGraphPermissions bool = false

var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'teams-notifier-resources'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    principalId: principalId
    principalType: principalType
    allowedTenantIds: allowedTenantIds
    maximumInstanceCount: maximumInstanceCount
    alertEmail: alertEmail
    telemetryUserIdSalt: telemetryUserIdSalt
    teamsAppCatalogId: teamsAppCatalogId
    grantGraphPermissions: grantGraphPermissions
  }
}

// azd writes every output into the environment (.azure/<env>/.env): `npm run package` fills the
// app package from BOT_ID (the bot's app registration, also webApplicationInfo.id), TEAMS_APP_ID
// and BOT_DOMAIN; `npm run notify` / `status` reach the storage with the identity-based settings
// and the default tenant.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output BOT_ID string = resources.outputs.botId
output BOT_DOMAIN string = resources.outputs.functionAppHostName
output BOT_ENDPOINT string = resources.outputs.botEndpoint
output BOT_SERVICE_NAME string = resources.outputs.botServiceName
output TEAMS_APP_ID string = resources.outputs.teamsAppId
output APP_IDENTITY_CLIENT_ID string = resources.outputs.appIdentityClientId
output APPLICATIONINSIGHTS_NAME string = resources.outputs.applicationInsightsName
output AZURE_STORAGE_ACCOUNT_NAME string = resources.outputs.storageAccountName
output AzureWebJobsStorage__queueServiceUri string = resources.outputs.queueServiceUri
output AzureWebJobsStorage__tableServiceUri string = resources.outputs.tableServiceUri
output DEFAULT_TENANT_ID string = tenant().tenantId
