// The bot's App ID URI, `api://botid-<app ID>`: what producers ask Microsoft Entra ID tokens for
// (scope `api://botid-<app ID>/.default`), and the Teams manifest's webApplicationInfo.resource
// (appPackage/manifest.json). It names the app's ID, so it is set by this second upsert of the
// registration that bot-registration.bicep created (the Microsoft Graph Bicep extension updates an
// existing application by uniqueName, leaving what this file does not name as it is).
extension microsoftGraphV1

param uniqueName string
param displayName string
param appId string

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  identifierUris: ['api://botid-${appId}']
}

output identifierUri string = 'api://botid-${appId}'
