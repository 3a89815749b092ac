import './setup.js'
import '../validation.test.js'
