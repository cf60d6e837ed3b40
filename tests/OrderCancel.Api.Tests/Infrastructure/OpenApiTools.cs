using System.Diagnostics;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>The Node.js tools of <c>tools/openapi</c> (Spectral, Redocly, openapi-typescript, tsc), installed by scripts/test.sh.</summary>
public static class OpenApiTools
{
    public static string Folder { get; } = Path.Combine(RepositoryRoot.Path, "tools", "openapi");

    /// <summary>Runs a tool from tools/openapi/node_modules/.bin; a non-zero exit fails the test with its output. Answers its standard output.</summary>
    public static async Task<string> RunAsync(string tool, params string[] arguments)
    {
        var program = Path.Combine(Folder, "node_modules", ".bin", tool);
        Assert.True(File.Exists(program), $"{program} is missing: run `npm ci --prefix tools/openapi` (./scripts/test.sh does).");
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{tool} exited {process.ExitCode}:\n{await output}\n{await error}");
        return await output;
    }
}
