// The package's CommonJS build, which loads in Node without a DOM (its `main` is extensionless ESM).
declare module 'adaptivecards/dist/adaptivecards.js' {
  export * from 'adaptivecards';
}
