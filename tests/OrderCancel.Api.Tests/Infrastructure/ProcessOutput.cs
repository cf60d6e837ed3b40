using System.Diagnostics;
using System.Text;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>What a child process (the service, HAProxy, PgBouncer, Redis) writes to stdout and stderr, kept as it comes; or, for one run to its end, <see cref="RunToExitAsync"/>.</summary>
public sealed class ProcessOutput
{
    private readonly StringBuilder _text = new();

    /// <summary>Starts reading <paramref name="process"/>'s redirected stdout and stderr.</summary>
    public ProcessOutput(Process process)
    {
        process.OutputDataReceived += (_, line) => Append(line.Data);
        process.ErrorDataReceived += (_, line) => Append(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>
    /// Runs <paramref name="start"/> (its output redirected here) to its exit, at most <paramref name="timeout"/>: its
    /// exit code and all it wrote, stdout then stderr.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var stop = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(stop.Token);
        return (process.ExitCode, $"{await output}\n{await errors}");
    }

    /// <summary>Everything written so far.</summary>
    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_text)
            {
                _text.AppendLine(line);
            }
        }
    }
}
