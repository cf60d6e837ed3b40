using System.Text.Json;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The served document passes Spectral's <c>spectral:oas</c> and Redocly's recommended rules with no error and no
/// warning (rulesets in tools/openapi, none turned off), and openapi-typescript's types from it compile against
/// tools/openapi/typescript-client.ts. scripts/test.sh installs the tools (npm ci in tools/openapi).
/// </summary>
[Collection(SharedApi.Name)]
public sealed class OpenApiLintTests(ApiFactory api) : IDisposable
{
    private static readonly string Tools = OpenApiTools.Folder;
    private readonly string _folder = Directory.CreateTempSubdirectory("openapi-lint-").FullName;

    [Fact]
    public async Task Spectral_finds_nothing_in_the_served_document()
    {
        var document = await WriteServedDocumentAsync();
        var results = Path.Combine(_folder, "spectral.json");

        await OpenApiTools.RunAsync("spectral", "lint", document, "--ruleset", Path.Combine(Tools, ".spectral.yaml"), "--fail-severity", "hint", "--format", "json", "--output", results);

        var found = JsonDocument.Parse(await File.ReadAllTextAsync(results)).RootElement;
        Assert.True(found.GetArrayLength() == 0, $"Spectral: {found}");
    }

    [Fact]
    public async Task Redocly_recommended_rules_find_no_error_and_no_warning()
    {
        var document = await WriteServedDocumentAsync();

        var output = await OpenApiTools.RunAsync("redocly", "lint", document, "--config", Path.Combine(Tools, "redocly.yaml"), "--format", "json");

        var totals = JsonDocument.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..]).RootElement.GetProperty("totals");
        Assert.True(totals.GetProperty("errors").GetInt32() == 0 && totals.GetProperty("warnings").GetInt32() == 0, $"Redocly: {output}");
    }

    [Fact]
    public async Task Openapi_typescript_types_compile_with_a_closed_problem_code_union()
    {
        var document = await WriteServedDocumentAsync();

        await OpenApiTools.RunAsync("openapi-typescript", document, "--output", Path.Combine(Tools, "generated", "ordercancel.d.ts"));
        await OpenApiTools.RunAsync("tsc", "--project", Path.Combine(Tools, "tsconfig.json"));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private async Task<string> WriteServedDocumentAsync()
    {
        var served = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var path = Path.Combine(_folder, "openapi.json");
        await File.WriteAllTextAsync(path, served.Text);
        return path;
    }
}
