using Microsoft.Extensions.Options;

namespace OperationsHub.Web.Features.Demo;

public sealed class DemoOptions
{
    public const string SectionName = "Demo";

    /// <summary>Seed demo tenants and users, and keep demo runs flowing. On only in the README's run command.</summary>
    public bool Enabled { get; set; }

    /// <summary>Keep demo runs flowing (off in tests that want the demo users without background runs).</summary>
    public bool GenerateRuns { get; set; } = true;

    /// <summary>How often the demo starts another run.</summary>
    public TimeSpan RunInterval { get; set; } = TimeSpan.FromSeconds(8);
}

internal sealed class ValidateDemoOptions : IValidateOptions<DemoOptions>
{
    public ValidateOptionsResult Validate(string? name, DemoOptions options) =>
        options.RunInterval < TimeSpan.FromMilliseconds(100)
            ? ValidateOptionsResult.Fail("Demo:RunInterval must be at least 100 ms.")
            : ValidateOptionsResult.Success;
}
