//go:build unix

package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Environment knobs (README.md):
//
//	NAGARE_CHAOS_SOAK=1   the long variant: more kills, partitions, restarts, moves (README.md)
//	NAGARE_CHAOS_SEED=n   replay a run's choices (which partition's leader to hit, pauses)
//	NAGARE_CHAOS_RACE=1   build the nodes with -race too (several times the CPU)
//	NAGARE_CHAOS_KEEP=1   keep every run's data dirs and node logs, not only failed ones
//	NAGARE_CHAOS_FIVE=1   run the five-node kill scenario without the rest of the soak
const (
	envSoak = "NAGARE_CHAOS_SOAK"
	envSeed = "NAGARE_CHAOS_SEED"
	envRace = "NAGARE_CHAOS_RACE"
	envKeep = "NAGARE_CHAOS_KEEP"
	envFive = "NAGARE_CHAOS_FIVE"
)

// nagareBin is the nagare binary built once for every node of every test, by the first
// cluster test (so that running only the model's tests builds nothing); buildErr says why
// it is missing. TestMain removes it at the end.
var (
	buildOnce sync.Once
	binDir    string
	nagareBin string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildNagare builds cmd/nagare once into a temporary directory, so that every node of
// every test runs the code under test as a real process.
func buildNagare() (dir, bin string, err error) {
	dir, err = os.MkdirTemp("", "nagare-chaos-bin-")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "nagare")
	args := []string{"build", "-o", bin}
	if os.Getenv(envRace) == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/nagare-dev/nagare/cmd/nagare")
	gobin, err := exec.LookPath("go")
	if err != nil {
		return dir, "", fmt.Errorf("find the go tool to build nagare: %w", err)
	}
	start := time.Now()
	cmd := exec.Command(gobin, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("go %v: %v\n%s", args, err, out)
	}
	fmt.Fprintf(os.Stderr, "chaos: built nagare in %s\n", time.Since(start).Round(time.Millisecond))
	return dir, bin, nil
}

// needCluster skips a cluster test under -short and fails it when the binary did not build.
func needCluster(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process cluster test; skipped with -short")
	}
	buildOnce.Do(func() { binDir, nagareBin, buildErr = buildNagare() })
	if buildErr != nil {
		t.Fatalf("build nagare: %v", buildErr)
	}
}

// soak reports whether the long variant was asked for.
func soak() bool { return os.Getenv(envSoak) == "1" }

// newRand returns the test's random source, seeded from NAGARE_CHAOS_SEED or the clock,
// and logs the seed so that a failing run's choices can be replayed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envSeed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
