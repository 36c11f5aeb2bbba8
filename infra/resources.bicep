// Everything Teams Notifier runs on, in one resource group. Modelled on Microsoft's Flex Consumption
// azd quickstarts and the Agents Toolkit bot templates, with plain resources (no registry modules)
// so that test/infra-drift.test.ts can read it. docs/deploy.md explains each choice.

param environmentName string
param location string
param tags object
param principalId string
param principalType string
param allowedTenantIds string
param maximumInstanceCount int
param alertEmail string
@secure()
param telemetryUserIdSalt string
param teamsAppCatalogId string
param grantGraphPermissions bool

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
// The Teams app package's `id` (appPackage/manifest.json, TEAMS_APP_ID): stable per deployment.
var teamsAppId = guid(resourceGroup().id, 'teams-notifier-app')
var functionAppName = 'func-notifier-${token}'
var deploymentContainer = 'app-package-${token}'

// Queue and table names the code uses (shared/queues.ts, shared/container.ts). Made here so
// that identities which may only send or read never need to create them. `-poison` queues are
// where the host moves a message after host.json's maxDequeueCount attempts.
// Deliveries have one queue per lane (urgent, normal, bulk: docs/delivery.md#lanes). The
// `-poison-poison` ones are the poison-queue functions' own poison queues, for a message they cannot record.
var queueNames = [
  'notification-jobs'
  'notification-jobs-poison'
  'notification-deliveries'
  'notification-deliveries-poison'
  'notification-deliveries-urgent'
  'notification-deliveries-urgent-poison'
  'notification-deliveries-bulk'
  'notification-deliveries-bulk-poison'
  'notification-jobs-poison-poison'
  'notification-deliveries-poison-poison'
  'notification-deliveries-urgent-poison-poison'
  'notification-deliveries-bulk-poison-poison'
  'notification-callbacks'
  'notification-callbacks-poison'
]
var tableNames = [
  'Conversations'
  'Jobs'
  'RejectedJobs'
  'RateBudgets'
]

// Built-in role definition IDs (the same in every tenant), each named after its role in Microsoft's
// list (learn.microsoft.com/azure/role-based-access-control/built-in-roles), which
// test/microsoft-constants.test.ts compares them with.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// The app's identity: blobs for the host (deployment package, leases, keys), queues and tables for
// the app and the queue triggers. Nothing else in the subscription.
var appStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

// Whoever ran `azd up`: send jobs (`npm run notify`) and read job status (`npm run status`) only.
var deployerStorageRoles = [
  roles.storageQueueDataMessageSender
  roles.storageTableDataReader
]

// ---------------------------------------------------------------------------------------------
// Identity: one user-assigned managed identity is the function app's identity for storage and
// Application Insights, and the only credential of the bot's single-tenant app registration
// (bot-registration.bicep): the app exchanges the identity's token for the bot's. No secret.
resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-notifier-${token}'
  location: location
  tags: tags
}

module botRegistration 'bot-registration.bicep' = {
  name: 'teams-notifier-bot-registration'
  params: {
    uniqueName: 'teams-notifier-bot-${token}'
    displayName: 'Teams Notifier (${environmentName})'
    managedIdentityPrincipalId: appIdentity.properties.principalId
    ownerId: principalId
    teamsAppCatalogId: teamsAppCatalogId
    grantGraphPermissions: grantGraphPermissions
  }
}

// ---------------------------------------------------------------------------------------------
// Storage: keys disabled, so every client (host, app, producers) signs in with Microsoft Entra ID.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stnotifier${token}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }

  resource blobService 'blobServices' = {
    name: 'default'
    resource deploymentPackages 'containers' = {
      name: deploymentContainer
    }
  }

  resource queueService 'queueServices' = {
    name: 'default'
    resource queue 'queues' = [for name in queueNames: { name: name }]
  }

  resource tableService 'tableServices' = {
    name: 'default'
    resource table 'tables' = [for name in tableNames: { name: name }]
  }
}

resource appStorageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in appStorageRoles: {
    name: guid(storage.id, appIdentity.id, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: appIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource deployerStorageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in (empty(principalId) ? [] : deployerStorageRoles): {
    name: guid(storage.id, principalId, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: principalId
      principalType: principalType
    }
  }
]

// ---------------------------------------------------------------------------------------------
// Monitoring: Application Insights accepts only Microsoft Entra-authenticated telemetry.
resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-notifier-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-notifier-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

resource telemetryPublishing 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appIdentity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// docs/workbook.json, as a shared workbook beside Application Insights.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'teams-notifier-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Teams Notifier operations (${environmentName})'
    category: 'workbook'
    // Workbooks compare their source ID in lower case.
    sourceId: toLower(appInsights.id)
    serializedData: loadTextContent('../docs/workbook.json')
  }
}

resource alertReceivers 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-notifier-${token}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'notifier'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'operators'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

// docs/alerts/alerts.json is an ARM template; Bicep deploys it as a module unchanged.
module alerts '../docs/alerts/alerts.json' = {
  name: 'teams-notifier-alerts'
  params: {
    appInsightsId: appInsights.id
    actionGroupId: alertReceivers.id
    prefix: 'notifier-${token}'
    location: location
  }
}

// ---------------------------------------------------------------------------------------------
// The function app: Flex Consumption, Linux, Node.js 22.
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-notifier-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

var appSettings = {
  // Identity-based host storage (AzureWebJobsStorage__*): the host and the app's own clients
  // (shared/azureStorage/connection.ts) use the user-assigned identity; there is no key to leak.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: appIdentity.properties.clientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  // The bot: its app registration's ID is the Microsoft App ID (MicrosoftAppId being set also turns
  // on JWT checks of every inbound activity); it signs in with the managed identity named by
  // MicrosoftAppClientId, through the registration's federated credential.
  MicrosoftAppId: botRegistration.outputs.appId
  MicrosoftAppType: 'SingleTenant'
  MicrosoftAppTenantId: tenant().tenantId
  MicrosoftAppClientId: appIdentity.properties.clientId
  // Microsoft Graph (docs/graph.md): the app installs itself from the organization's catalog, by
  // the catalog ID when given, else by the manifest's ID (the Teams app package's `id`).
  TEAMS_APP_CATALOG_ID: teamsAppCatalogId
  TEAMS_APP_ID: teamsAppId
  ALLOWED_TENANT_IDS: allowedTenantIds
  DEFAULT_TENANT_ID: tenant().tenantId
  // Teams' limit for the whole tenant: every instance takes its call times from one shared budget
  // row per tenant (docs/scale-out.md), so maximumInstanceCount needs no division of it.
  TENANT_RATE_PER_SECOND: '50'
  // Telemetry, Entra-authenticated (the resource refuses key-only ingestion).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${appIdentity.properties.clientId};Authorization=AAD'
  // Hashed user IDs in telemetry get a secret salt that azd generated for this environment
  // (main.bicep's telemetryUserIdSalt), never one derived from public IDs.
  TELEMETRY_USER_ID_SALT: telemetryUserIdSalt
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'notifier' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${appIdentity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: appIdentity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  dependsOn: [
    appStorageAccess
    telemetryPublishing
  ]
}

// GET /api/health (functions/health/index.ts, anonymous) watched by an availability test that alerts.
var healthUrl = 'https://${functionApp.properties.defaultHostName}/api/health'

module health 'health.bicep' = {
  name: 'teams-notifier-health'
  params: {
    prefix: 'notifier-${token}'
    location: location
    tags: tags
    appInsightsId: appInsights.id
    actionGroupId: alertReceivers.id
    url: healthUrl
  }
}

// ---------------------------------------------------------------------------------------------
// The Azure Bot: the Teams channel sends activities to the app's /api/messages (functions/messages/index.ts,
// host.json routePrefix "api"); the bot is the single-tenant app registration.
var messagingEndpoint = 'https://${functionApp.properties.defaultHostName}/api/messages'

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: 'bot-notifier-${token}'
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: { name: 'F0' }
  properties: {
    displayName: 'Teams Notifier'
    endpoint: messagingEndpoint
    msaAppId: botRegistration.outputs.appId
    msaAppType: 'SingleTenant'
    msaAppTenantId: tenant().tenantId
  }

  resource teams 'channels' = {
    name: 'MsTeamsChannel'
    location: 'global'
    properties: {
      channelName: 'MsTeamsChannel'
      properties: { isEnabled: true }
    }
  }
}

output functionAppName string = functionApp.name
output functionAppHostName string = functionApp.properties.defaultHostName
output botId string = botRegistration.outputs.appId
output botEndpoint string = messagingEndpoint
output botServiceName string = bot.name
// A stable GUID per deployment for the Teams app's manifest ID.
output teamsAppId string = teamsAppId
output appIdentityClientId string = appIdentity.properties.clientId
output applicationInsightsName string = appInsights.name
output storageAccountName string = storage.name
output queueServiceUri string = storage.properties.primaryEndpoints.queue
output tableServiceUri string = storage.properties.primaryEndpoints.table
