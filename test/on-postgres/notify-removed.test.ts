import './setup.js'
import '../notify-removed.test.js'
