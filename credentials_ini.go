package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/ini.v1"
)

// ProfileCredentialsProvider reads a section of the INI credentials file,
// ~/.alibabacloud/credentials, shared by Alibaba Cloud's official SDKs. It
// supports the types access_key, ecs_ram_role and ram_role_arn, and reads
// the file again on each Retrieve. The file is parsed with gopkg.in/ini.v1.
type ProfileCredentialsProvider struct {
	opts ProfileOptions
}

// NewProfileCredentialsProvider returns a provider of an INI credentials
// file section. It checks the options and does no I/O.
func NewProfileCredentialsProvider(opts ProfileOptions) (*ProfileCredentialsProvider, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, fmt.Errorf("profile credentials: %w", err)
	}
	return &ProfileCredentialsProvider{opts: opts}, nil
}

// defaultINISection is the section read when no profile is chosen.
const defaultINISection = "default"

// Retrieve reads the selected section and returns its credentials, calling
// STS or the metadata service when the type requires.
func (p *ProfileCredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	path, chosen, err := resolveProfileFile(p.opts.File, envCredentialsFile, filepath.Join(".alibabacloud", "credentials"))
	if err != nil {
		return Credentials{}, err
	}
	data, err := readProfileFile(path, chosen)
	if err != nil {
		return Credentials{}, err
	}
	// SpaceBeforeInlineComment keeps a '#' or ';' inside a value, such as a
	// policy, and still strips a comment that follows a space.
	file, err := ini.LoadSources(ini.LoadOptions{SpaceBeforeInlineComment: true}, data)
	if err != nil {
		// The parser's errors quote the offending line, which may hold a
		// secret, so only the fact of the failure is reported.
		return Credentials{}, fmt.Errorf("parse credentials file %s: invalid INI syntax", path)
	}

	name := p.opts.profileName()
	if name == "" {
		name = defaultINISection
	}
	section, err := file.GetSection(name)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials file %s has no section [%s] (sections: %s)",
			path, name, strings.Join(iniSectionNames(file), ", "))
	}
	creds, err := p.retrieveSection(ctx, section)
	if err != nil {
		return Credentials{}, fmt.Errorf("section [%s] of credentials file %s: %w", name, path, err)
	}
	return creds, nil
}

// iniSectionNames returns the named sections of file, sorted.
func iniSectionNames(file *ini.File) []string {
	var names []string
	for _, name := range file.SectionStrings() {
		if name != ini.DefaultSection {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// retrieveSection returns the credentials of one INI section by its type.
func (p *ProfileCredentialsProvider) retrieveSection(ctx context.Context, section *ini.Section) (Credentials, error) {
	value := func(key string) string { return strings.TrimSpace(section.Key(key).String()) }
	kind := value("type")
	switch kind {
	case "access_key":
		return accessKeyFromProfile(value("access_key_id"), value("access_key_secret"), "", "access_key_id", "access_key_secret")
	case "ecs_ram_role":
		provider, err := p.opts.ecsProvider(value("role_name"))
		if err != nil {
			return Credentials{}, err
		}
		return provider.Retrieve(ctx)
	case "ram_role_arn":
		source, err := accessKeyFromProfile(value("access_key_id"), value("access_key_secret"), "", "access_key_id", "access_key_secret")
		if err != nil {
			return Credentials{}, err
		}
		provider, err := NewRAMRoleARNCredentialsProvider(
			NewStaticCredentialsProvider(source.AccessKeyID, source.AccessKeySecret, ""),
			RAMRoleARNOptions{
				RoleARN:         value("role_arn"),
				RoleSessionName: value("role_session_name"),
				Policy:          value("policy"),
				STSEndpoint:     p.opts.stsEndpoint("", false),
				HTTPClient:      p.opts.HTTPClient,
			})
		if err != nil {
			return Credentials{}, err
		}
		return provider.Retrieve(ctx)
	case "":
		return Credentials{}, errors.New("type is missing: set type to access_key, ecs_ram_role or ram_role_arn")
	}
	return Credentials{}, fmt.Errorf("unsupported type %q: supported types are access_key, ecs_ram_role and ram_role_arn", kind)
}

// String returns the file and profile settings.
func (p *ProfileCredentialsProvider) String() string {
	return "ProfileCredentialsProvider{" + p.opts.describe() + "}"
}

// GoString is String with the package name, for the %#v verb.
func (p *ProfileCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the same text for every verb. The provider holds no secret:
// it reads the file on each Retrieve.
func (p *ProfileCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer.
func (p *ProfileCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", "profile"),
		slog.String("file", p.opts.File), slog.String("profile", p.opts.ProfileName))
}
