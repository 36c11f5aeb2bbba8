// An Application Insights standard availability test of GET /api/health (functions/health/), and an
// alert to the operators' action group when it fails from two or more locations.
// Resource shapes: Azure/bicep-types-az generated/applicationinsights/microsoft.insights/2022-06-15/types.md
// (Microsoft.Insights/webtests, kind standard) and generated/monitor/microsoft.insights/2018-03-01/types.md
// (Microsoft.Insights/metricAlerts, WebtestLocationAvailabilityCriteria). The hidden-link tags tie
// both to the Application Insights resource, as in Microsoft's azure-quickstart-templates
// demos/dynamic-web-tests/azuredeploy.json.

param prefix string
param location string
param tags object
param appInsightsId string
param actionGroupId string
@description('The URL the test calls: https://<function app host>/api/health')
param url string

var testName = '${prefix}-health'
// Location IDs ("Location population tags"):
// https://learn.microsoft.com/azure/azure-monitor/app/availability-standard-tests#azure
// West Europe, North Europe, East US, West US, Southeast Asia.
var testLocations = [
  'emea-nl-ams-azr'
  'emea-gb-db3-azr'
  'us-va-ash-azr'
  'us-ca-sjc-azr'
  'apac-sg-sin-azr'
]

resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: testName
  location: location
  tags: union(tags, { 'hidden-link:${appInsightsId}': 'Resource' })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: testName
    Name: 'Teams Notifier /api/health'
    Description: 'GET /api/health answers 200 when the configuration is complete and every queue and table answers (docs/operations.md)'
    Enabled: true
    Frequency: 300
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [for id in testLocations: { Id: id }]
    Request: {
      RequestUrl: url
      HttpVerb: 'GET'
      ParseDependentRequests: false
      FollowRedirects: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
    }
  }
}

resource healthAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${prefix}-health-failing'
  location: 'global'
  tags: union(tags, {
    'hidden-link:${appInsightsId}': 'Resource'
    'hidden-link:${healthTest.id}': 'Resource'
  })
  properties: {
    description: 'GET /api/health failed from 2 or more locations: its answer names what is missing or failing (docs/operations.md, "Health")'
    severity: 1
    enabled: true
    scopes: [
      healthTest.id
      appInsightsId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: appInsightsId
      failedLocationCount: 2
    }
    actions: [
      { actionGroupId: actionGroupId }
    ]
  }
}

output testName string = healthTest.properties.Name
