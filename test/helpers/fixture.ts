// The fixture ships with the test kit (people testing their own store use it too).
export * from '../../lib/fixture.js'
