package main

// `nagare user`: add, list and remove SCRAM users, as Kafka's kafka-configs.sh
// --entity-type users does, through AlterUserScramCredentials and
// DescribeUserScramCredentials (KIP-554) only, so it works against any Kafka
// cluster (2.7+). The password is salted and hashed here (PBKDF2, by kadm);
// only the salted form travels.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// userPasswordEnv is read when --password is not given.
const userPasswordEnv = "NAGARE_USER_PASSWORD"

// newUserCommand returns `nagare user` and its subcommands.
func newUserCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Add, list and remove SCRAM users",
		Long: `Manage SCRAM-SHA-256 and SCRAM-SHA-512 credentials on any Kafka-compatible
cluster with AlterUserScramCredentials and DescribeUserScramCredentials (Kafka 2.7+).
Clients then authenticate as the user with SASL/SCRAM; ACLs and quotas see them as
User:<name>. The password is salted and hashed before it is sent.

To reach a cluster that itself requires authentication, use the connection flags:
--sasl-mechanism, --sasl-user, --sasl-password (or $NAGARE_SASL_PASSWORD), --tls-ca.`,
		Example: `  nagare user add alice --password alice-secret
  nagare user add alice --mechanism SCRAM-SHA-512 --iterations 8192 --password-stdin < pw.txt
  nagare user list
  nagare user remove alice --mechanism SCRAM-SHA-256
  nagare user list --bootstrap broker:9093 --tls-ca ca.pem \
      --sasl-mechanism SCRAM-SHA-512 --sasl-user admin --sasl-password admin-secret`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	cf.register(cmd.PersistentFlags(), "nagare-cli")
	cmd.AddCommand(newUserAddCommand(cf), newUserListCommand(cf), newUserRemoveCommand(cf))
	return cmd
}

// scramMechanisms parses --mechanism values.
func scramMechanisms(cmd *cobra.Command, names []string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	for _, n := range names {
		switch strings.ToUpper(strings.TrimSpace(n)) {
		case "SCRAM-SHA-256":
			out = append(out, kadm.ScramSha256)
		case "SCRAM-SHA-512":
			out = append(out, kadm.ScramSha512)
		default:
			return nil, usagef(cmd, "--mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", n)
		}
	}
	return out, nil
}

func newUserAddCommand(cf *clientFlags) *cobra.Command {
	var (
		mechanisms    []string
		iterations    int32
		password      string
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "add USER",
		Short: "Create or change a user's SCRAM credentials",
		Long: `Create or replace USER's SCRAM credential for each --mechanism (default: both).
The password comes from --password, --password-stdin (first line) or $` + userPasswordEnv + `.`,
		Args: exactArgs("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			mechs, err := scramMechanisms(cmd, mechanisms)
			if err != nil {
				return err
			}
			if iterations < 4096 || iterations > 16384 {
				return usagef(cmd, "--iterations must be 4096 to 16384 (Kafka's bounds), got %d", iterations)
			}
			pw, err := userPassword(cmd, password, passwordStdin)
			if err != nil {
				return err
			}
			var ups []kadm.UpsertSCRAM
			for _, m := range mechs {
				ups = append(ups, kadm.UpsertSCRAM{User: args[0], Mechanism: m, Iterations: iterations, Password: pw})
			}
			return cf.explain(alterUsers(cmd.Context(), cf, cmd.OutOrStdout(), nil, ups, "added"))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&mechanisms, "mechanism", []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}, "SCRAM mechanism(s): SCRAM-SHA-256, SCRAM-SHA-512")
	f.Int32Var(&iterations, "iterations", 4096, "PBKDF2 iterations (4096 to 16384)")
	f.StringVar(&password, "password", "", "the password (default $"+userPasswordEnv+")")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

// userPassword picks the password from the flags, stdin or the environment.
func userPassword(cmd *cobra.Command, password string, stdin bool) (string, error) {
	switch {
	case stdin && password != "":
		return "", usagef(cmd, "give --password or --password-stdin, not both")
	case stdin:
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	case password == "":
		password = os.Getenv(userPasswordEnv)
	}
	if password == "" {
		return "", usagef(cmd, "a password is needed: --password, --password-stdin or $%s", userPasswordEnv)
	}
	return password, nil
}

func newUserRemoveCommand(cf *clientFlags) *cobra.Command {
	var mechanisms []string
	cmd := &cobra.Command{
		Use:     "remove USER",
		Aliases: []string{"delete", "rm"},
		Short:   "Remove a user's SCRAM credentials",
		Long:    `Remove USER's SCRAM credential for each --mechanism (default: every one it has).`,
		Args:    exactArgs("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			mechs, err := scramMechanisms(cmd, mechanisms)
			if err != nil {
				return err
			}
			return cf.explain(removeUser(cmd.Context(), cf, cmd.OutOrStdout(), args[0], mechs))
		},
	}
	cmd.Flags().StringSliceVar(&mechanisms, "mechanism", nil, "SCRAM mechanism(s) to remove (default: all the user has)")
	return cmd
}

func removeUser(ctx context.Context, cf *clientFlags, out io.Writer, user string, mechs []kadm.ScramMechanism) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()
	if len(mechs) == 0 {
		described, err := adm.DescribeUserSCRAMs(ctx, user)
		if err != nil {
			return err
		}
		d := described[user]
		if errors.Is(d.Err, kerr.ResourceNotFound) {
			return fmt.Errorf("user %q has no SCRAM credentials", user)
		}
		if d.Err != nil {
			return fmt.Errorf("describe user %q: %w", user, d.Err)
		}
		for _, c := range d.CredInfos {
			mechs = append(mechs, c.Mechanism)
		}
	}
	var dels []kadm.DeleteSCRAM
	for _, m := range mechs {
		dels = append(dels, kadm.DeleteSCRAM{User: user, Mechanism: m})
	}
	return alterUsersWith(ctx, adm, out, dels, nil, "removed")
}

// alterUsers opens an admin client and applies deletions and upserts.
func alterUsers(ctx context.Context, cf *clientFlags, out io.Writer, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM, verb string) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()
	return alterUsersWith(ctx, adm, out, dels, ups, verb)
}

func alterUsersWith(ctx context.Context, adm *kadm.Client, out io.Writer, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM, verb string) error {
	res, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range res.Sorted() {
		if r.Err != nil {
			msg := r.ErrMessage
			if msg == "" {
				msg = r.Err.Error()
			}
			errs = append(errs, fmt.Errorf("user %q: %s: %w", r.User, msg, r.Err))
			continue
		}
		var mechs []string
		for _, u := range ups {
			mechs = append(mechs, u.Mechanism.String())
		}
		for _, d := range dels {
			mechs = append(mechs, d.Mechanism.String())
		}
		fmt.Fprintf(out, "%s SCRAM credentials for user %q (%s)\n", verb, r.User, strings.Join(mechs, ", "))
	}
	return errors.Join(errs...)
}

// userEntry is one user in `nagare user list --output json`.
type userEntry struct {
	User        string           `json:"user"`
	Credentials []userCredential `json:"credentials"`
}

type userCredential struct {
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

func newUserListCommand(cf *clientFlags) *cobra.Command {
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:     "list [USER...]",
		Aliases: []string{"ls", "describe"},
		Short:   "List users with SCRAM credentials, and their mechanisms",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			return cf.explain(listUsers(cmd.Context(), cf, cmd.OutOrStdout(), args, output.value))
		},
	}
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

func listUsers(ctx context.Context, cf *clientFlags, out io.Writer, users []string, output string) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()
	described, err := adm.DescribeUserSCRAMs(ctx, users...)
	if err != nil {
		return err
	}
	entries := []userEntry{}
	var errs []error
	for _, d := range described.Sorted() {
		if d.Err != nil {
			if errors.Is(d.Err, kerr.ResourceNotFound) {
				errs = append(errs, fmt.Errorf("user %q has no SCRAM credentials", d.User))
			} else {
				errs = append(errs, fmt.Errorf("user %q: %w", d.User, d.Err))
			}
			continue
		}
		e := userEntry{User: d.User}
		for _, c := range d.CredInfos {
			e.Credentials = append(e.Credentials, userCredential{Mechanism: c.Mechanism.String(), Iterations: c.Iterations})
		}
		entries = append(entries, e)
	}
	if output == outputJSON {
		if err := writeJSON(out, entries); err != nil {
			return err
		}
		return errors.Join(errs...)
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
	for _, e := range entries {
		for _, c := range e.Credentials {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", e.User, c.Mechanism, c.Iterations)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
