using System.Diagnostics;
using System.Text;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>What a child process (the service, HAProxy, PgBouncer, Redis) writes to stdout and stderr, kept as it comes.</summary>
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
