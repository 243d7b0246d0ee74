package console

import "github.com/switchyard-dev/switchyard/pkg/session"

// CSRFHeader is the header the console's JavaScript sends with every /v1
// call (see pkg/session, which keeps the sessions).
const CSRFHeader = session.CSRFHeader
