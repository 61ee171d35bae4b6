<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests;

use MqttBroadcast\Tests\Support\Failure;

/**
 * Debian's headless Chromium, driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: JSON messages ending in NUL, commands on the
 * child's fd 3, answers and events on its fd 4), so that a test can load a
 * page, let its scripts run in real time and read the DOM while it changes.
 * No node, no npm.
 */
final class Browser
{
    private const TIMEOUT = 20.0;

    /** @var resource */
    private $process;
    /** @var array<int, resource> */
    private array $pipes;
    private int $lastId = 0;
    private string $buffer = '';
    /** @var list<string> events received while waiting for answers, by method */
    private array $events = [];
    private string $session;

    private function __construct(string $binary, private readonly string $dir)
    {
        $process = proc_open(
            [
                $binary, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                '--disable-dev-shm-usage', '--hide-scrollbars', '--no-first-run', '--disable-extensions',
                '--remote-debugging-pipe', "--user-data-dir=$dir/profile", 'about:blank',
            ],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/chromium.log", 'a'], 2 => ['file', "$dir/chromium.log", 'a'], 3 => ['pipe', 'r'], 4 => ['pipe', 'w']],
            $pipes,
            null,
            array_merge(getenv(), ['HOME' => $dir]),
        );
        if (!is_resource($process)) {
            throw new \RuntimeException("cannot start $binary");
        }
        $this->process = $process;
        $this->pipes = $pipes;
        stream_set_blocking($this->pipes[4], false);
        $target = $this->call('Target.createTarget', ['url' => 'about:blank'], false)['targetId'];
        $this->session = $this->call('Target.attachToTarget', ['targetId' => $target, 'flatten' => true], false)['sessionId'];
        $this->call('Page.enable');
    }

    /** The path of Debian's chromium, null where it is not installed. */
    public static function find(): ?string
    {
        foreach (['chromium', 'chromium-browser'] as $name) {
            $path = trim((string) shell_exec('command -v ' . escapeshellarg($name) . ' 2>/dev/null'));
            if ($path !== '') {
                return $path;
            }
        }
        return null;
    }

    /** @param string $dir for its profile and log */
    public static function launch(string $binary, string $dir): self
    {
        @mkdir($dir, 0777, true);
        return new self($binary, $dir);
    }

    /** Loads $url and waits for its load event. */
    public function open(string $url): void
    {
        $this->events = [];
        $this->call('Page.navigate', ['url' => $url]);
        $deadline = microtime(true) + self::TIMEOUT;
        while (!in_array('Page.loadEventFired', $this->events, true)) {
            $this->receive($deadline);
        }
    }

    /** The value of a JavaScript expression in the page. */
    public function evaluate(string $expression): mixed
    {
        $result = $this->call('Runtime.evaluate', ['expression' => $expression, 'returnByValue' => true]);
        if (isset($result['exceptionDetails'])) {
            Failure::raise("$expression threw in the page: " . json_encode($result['exceptionDetails']));
        }
        return $result['result']['value'] ?? null;
    }

    /** Waits until $expression is truthy in the page; returns its value. */
    public function waitFor(string $expression, float $timeout, string $what): mixed
    {
        $deadline = microtime(true) + $timeout;
        while (!($value = $this->evaluate($expression))) {
            if (microtime(true) >= $deadline) {
                Failure::raise("the page did not show $what within {$timeout}s ($expression)\n" . Failure::tail((string) $this->evaluate('document.body.innerText'), 60));
            }
            usleep(100_000);
        }
        return $value;
    }

    /** A PNG of the whole page, laid out $width pixels wide. */
    public function screenshot(string $file, int $width): void
    {
        $this->call('Emulation.setDeviceMetricsOverride', ['width' => $width, 'height' => 800, 'deviceScaleFactor' => 1, 'mobile' => false]);
        $height = (int) $this->evaluate('document.documentElement.scrollHeight');
        $this->call('Emulation.setDeviceMetricsOverride', ['width' => $width, 'height' => $height, 'deviceScaleFactor' => 1, 'mobile' => false]);
        file_put_contents($file, base64_decode($this->call('Page.captureScreenshot', ['format' => 'png'])['data']));
    }

    public function close(): void
    {
        if (!is_resource($this->process)) {
            return;
        }
        foreach ($this->pipes as $pipe) {
            fclose($pipe);
        }
        // Without its pipe Chromium exits; a stuck one is killed.
        // Once proc_get_status has seen it end, its pid may be another process's.
        $deadline = microtime(true) + 5.0;
        while (($running = proc_get_status($this->process)['running']) && microtime(true) < $deadline) {
            usleep(20_000);
        }
        if ($running) {
            proc_terminate($this->process, SIGKILL);
        }
        proc_close($this->process);
    }

    public function __destruct()
    {
        $this->close();
    }

    /**
     * Sends a command and returns its result; events that come meanwhile are kept.
     *
     * @param array<string, mixed> $params
     * @return array<string, mixed>
     */
    private function call(string $method, array $params = [], bool $inPage = true): array
    {
        $id = ++$this->lastId;
        $message = ['id' => $id, 'method' => $method, 'params' => (object) $params];
        if ($inPage) {
            $message['sessionId'] = $this->session;
        }
        fwrite($this->pipes[3], json_encode($message, JSON_THROW_ON_ERROR) . "\0");
        $deadline = microtime(true) + self::TIMEOUT;
        while (true) {
            $answer = $this->receive($deadline);
            if (($answer['id'] ?? null) === $id) {
                if (isset($answer['error'])) {
                    Failure::raise("chromium refused $method: " . json_encode($answer['error']));
                }
                return $answer['result'];
            }
        }
    }

    /** @return array<string, mixed> the next message from Chromium */
    private function receive(float $deadline): array
    {
        while (($end = strpos($this->buffer, "\0")) === false) {
            $read = [$this->pipes[4]];
            $write = $except = null;
            $left = $deadline - microtime(true);
            if ($left <= 0) {
                Failure::raise('chromium did not answer within ' . self::TIMEOUT . "s\n" . Failure::tail((string) @file_get_contents("{$this->dir}/chromium.log"), 20));
            }
            if (stream_select($read, $write, $except, 0, (int) min(200_000, $left * 1e6)) > 0) {
                $chunk = fread($this->pipes[4], 1 << 16);
                if ($chunk === '' || $chunk === false) {
                    Failure::raise("chromium exited\n" . Failure::tail((string) @file_get_contents("{$this->dir}/chromium.log"), 20));
                }
                $this->buffer .= $chunk;
            }
        }
        $message = json_decode(substr($this->buffer, 0, $end), true, flags: JSON_THROW_ON_ERROR);
        $this->buffer = substr($this->buffer, $end + 1);
        if (isset($message['method'])) {
            $this->events[] = $message['method'];
        }
        return $message;
    }
}
