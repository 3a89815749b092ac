import './setup.js'
import '../erase.test.js'
