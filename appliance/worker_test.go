package appliance

import (
	"os"
	"testing"

	"github.com/airlock-appliance/airlock/sandbox"
)

// The test binary is also the scan worker of the importer it tests.
func TestMain(m *testing.M) {
	sandbox.MaybeWorker(os.Args)
	os.Exit(m.Run())
}
