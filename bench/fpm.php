<?php

declare(strict_types=1);

// PHP-FPM throughput with and without one publish() per request.
//
//   MQTT_BROADCAST_EXT=target/release/libmqtt_broadcast.so php bench/fpm.php
//
// Starts its own mosquitto and PHP-FPM pool (tests/support: Broker, FpmPool),
// then sends the same script (bench/fpm-app.php) with publishing off and on,
// and prints a markdown table. Knobs (environment): BENCH_REQUESTS per run
// (10000), BENCH_CONCURRENCY requests in flight (2 x workers), BENCH_WORKERS
// FPM workers (the core count), BENCH_RUNS (3).

require dirname(__DIR__) . '/tests/support/autoload.php';

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\FpmPool;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * A small FastCGI client (the responder role, one connection per request, as
 * nginx does without fastcgi_keep_conn) that keeps $concurrency requests in
 * flight with stream_select. Spawning cgi-fcgi per request would cost more than
 * the requests themselves.
 */
final class FastCgiLoad
{
    private const VERSION = 1;
    private const BEGIN_REQUEST = 1;
    private const END_REQUEST = 3;
    private const PARAMS = 4;
    private const STDIN = 5;
    private const STDOUT = 6;
    private const STDERR = 7;
    private const RESPONDER = 1;

    public function __construct(private readonly string $address)
    {
    }

    /**
     * Sends $count requests, $concurrency at a time; returns requests per second.
     * Every response must be a 200 whose body is exactly $expectedBody, with nothing on stderr.
     *
     * @param \Closure(int): array<string,string> $params FastCGI params of the n-th request
     */
    public function run(int $count, int $concurrency, \Closure $params, string $expectedBody): float
    {
        $start = hrtime(true);
        $sent = 0;
        $done = 0;
        /** @var array<int, array{socket: resource, buffer: string, stdout: string, stderr: string}> $open */
        $open = [];
        while ($done < $count) {
            while (count($open) < $concurrency && $sent < $count) {
                $socket = $this->send($params($sent++));
                $open[(int) $socket] = ['socket' => $socket, 'buffer' => '', 'stdout' => '', 'stderr' => ''];
            }
            $read = array_column($open, 'socket');
            $write = $except = null;
            if (stream_select($read, $write, $except, 10) === 0) {
                throw new \RuntimeException('no FastCGI response within 10 s');
            }
            foreach ($read as $socket) {
                $request = &$open[(int) $socket];
                $chunk = fread($socket, 65536);
                if ($chunk === '' || $chunk === false) {
                    throw new \RuntimeException('FastCGI connection closed before END_REQUEST; stdout so far: ' . $request['stdout']);
                }
                $request['buffer'] .= $chunk;
                if ($this->consume($request)) {
                    $this->check($request['stdout'], $request['stderr'], $expectedBody);
                    fclose($socket);
                    unset($open[(int) $socket]);
                    $done++;
                }
                unset($request);
            }
        }
        return $count / ((hrtime(true) - $start) / 1e9);
    }

    /** @return resource */
    private function send(array $params)
    {
        $socket = stream_socket_client($this->address, $errno, $errstr, 5);
        if ($socket === false) {
            throw new \RuntimeException("cannot connect to {$this->address}: $errstr");
        }
        $encoded = '';
        foreach ($params as $name => $value) {
            $encoded .= self::length(strlen((string) $name)) . self::length(strlen((string) $value)) . $name . $value;
        }
        $request = self::record(self::BEGIN_REQUEST, pack('nCx5', self::RESPONDER, 0))
            . self::record(self::PARAMS, $encoded)
            . self::record(self::PARAMS, '')
            . self::record(self::STDIN, '');
        if (fwrite($socket, $request) !== strlen($request)) {
            throw new \RuntimeException('short write of a FastCGI request');
        }
        stream_set_blocking($socket, false);
        return $socket;
    }

    /** Takes the complete records off the buffer; true once END_REQUEST arrived. */
    private function consume(array &$request): bool
    {
        while (strlen($request['buffer']) >= 8) {
            $header = unpack('Cversion/Ctype/nid/nlength/Cpadding', $request['buffer']);
            $size = 8 + $header['length'] + $header['padding'];
            if (strlen($request['buffer']) < $size) {
                return false;
            }
            $content = substr($request['buffer'], 8, $header['length']);
            $request['buffer'] = substr($request['buffer'], $size);
            match ($header['type']) {
                self::STDOUT => $request['stdout'] .= $content,
                self::STDERR => $request['stderr'] .= $content,
                self::END_REQUEST => null,
                default => throw new \RuntimeException("unexpected FastCGI record type {$header['type']}"),
            };
            if ($header['type'] === self::END_REQUEST) {
                return true;
            }
        }
        return false;
    }

    private function check(string $stdout, string $stderr, string $expectedBody): void
    {
        $split = strpos($stdout, "\r\n\r\n");
        $headers = $split === false ? $stdout : substr($stdout, 0, $split);
        $body = $split === false ? '' : substr($stdout, $split + 4);
        if ($stderr !== '' || preg_match('/^Status: (?!200)/mi', $headers) || $body !== $expectedBody) {
            throw new \RuntimeException("unexpected FastCGI response:\n$stdout\n--- stderr ---\n$stderr");
        }
    }

    private static function record(int $type, string $content): string
    {
        return pack('CCnnCx', self::VERSION, $type, 1, strlen($content), 0) . $content;
    }

    private static function length(int $length): string
    {
        return $length < 128 ? chr($length) : pack('N', $length | 0x80000000);
    }
}

function env_int(string $name, int $default): int
{
    $value = getenv($name);
    return $value === false || $value === '' ? $default : max(1, (int) $value);
}

function median(array $values): float
{
    sort($values);
    $n = count($values);
    return $n % 2 ? $values[intdiv($n, 2)] : ($values[$n / 2 - 1] + $values[$n / 2]) / 2;
}

$extension = PhpScript::extensionPath();
if (!is_file($extension)) {
    fwrite(STDERR, "extension $extension not found: build it (cargo build --release) or set MQTT_BROADCAST_EXT\n");
    exit(1);
}
$cores = (int) trim((string) shell_exec('nproc'));
$workers = env_int('BENCH_WORKERS', max(1, $cores));
$concurrency = env_int('BENCH_CONCURRENCY', 2 * $workers);
$requests = env_int('BENCH_REQUESTS', 10000);
$runs = env_int('BENCH_RUNS', 3);

$broker = Broker::start();
$pool = FpmPool::start([
    'children' => $workers,
    'opcache' => true,
    'log_level' => 'notice',
    'request_timeout' => 30.0,
]);
$script = dirname(__DIR__) . '/bench/fpm-app.php';
$topic = 'bench/fpm/' . bin2hex(random_bytes(4));
$paramsOf = static fn (array $query): \Closure => static fn (int $n): array => [
    'GATEWAY_INTERFACE' => 'CGI/1.1',
    'SERVER_PROTOCOL' => 'HTTP/1.1',
    'SERVER_NAME' => 'localhost',
    'REMOTE_ADDR' => '127.0.0.1',
    'REQUEST_METHOD' => 'GET',
    'SCRIPT_FILENAME' => $script,
    'SCRIPT_NAME' => '/fpm-app.php',
    'QUERY_STRING' => http_build_query($query + ['n' => $n]),
];
$common = ['host' => $broker->host(), 'port' => $broker->port(), 'topic' => $topic];
$scenarios = [
    'no publish (same script)' => ['publish' => 0, 'qos' => 0] + $common,
    'one publish() per request, QoS 0' => ['publish' => 1, 'qos' => 0] + $common,
    'one publish() per request, QoS 1' => ['publish' => 1, 'qos' => 1] + $common,
];

$client = new FastCgiLoad('tcp://127.0.0.1:' . $pool->port());
$published = 0;
fprintf(STDERR, "warming up %d workers...\n", $workers);
foreach ($scenarios as $query) {
    // Enough requests that every worker has opened its connection and OPcache is warm.
    $client->run(50 * $workers, $concurrency, $paramsOf($query), 'ok');
    $published += $query['publish'] ? 50 * $workers : 0;
}

$results = array_fill_keys(array_keys($scenarios), []);
for ($run = 1; $run <= $runs; $run++) {
    // Scenarios take turns, so that drift on the machine spreads over all of them.
    foreach ($scenarios as $name => $query) {
        $results[$name][] = $client->run($requests, $concurrency, $paramsOf($query), 'ok');
        $published += $query['publish'] ? $requests : 0;
        fprintf(STDERR, "run %d/%d  %-34s %8.0f requests/s\n", $run, $runs, $name, end($results[$name]));
    }
}

// Cross-check on the broker's side: every message published reached it (its log has a line per PUBLISH).
$received = static fn (): int => count($broker->logLinesMatching('/Received PUBLISH from mqttb-/'));
$deadline = microtime(true) + 15.0;
while ($received() < $published && microtime(true) < $deadline) {
    usleep(100_000);
}
$arrived = $received();
$seconds = $pool->quit(30.0);
$broker->stop();

printf("| scenario | requests/s (median of %d runs) | min | max |\n", $runs);
echo "|---|---:|---:|---:|\n";
$baseline = median($results[array_key_first($results)]);
foreach ($results as $name => $values) {
    $median = median($values);
    $relative = $name === array_key_first($results) ? '' : sprintf(' (%+.0f%%)', 100 * ($median / $baseline - 1));
    printf("| %s | %.0f%s | %.0f | %.0f |\n", $name, $median, $relative, min($values), max($values));
}
echo "\n";
printf("- machine: %d cores; PHP %s; php-fpm8.2 pm = static with %d workers, OPcache on\n", $cores, PHP_VERSION, $workers);
printf("- load: %d requests per run, %d in flight, each on a new FastCGI connection, sent by the small FastCGI client in bench/fpm.php (not cgi-fcgi: a process per request would dominate)\n", $requests, $concurrency);
printf("- mosquitto %s on 127.0.0.1 with the test support's config (log_type all: it logs every PUBLISH), no subscriber\n", trim((string) shell_exec("mosquitto -h 2>/dev/null | head -n1 | sed 's/^mosquitto version //'")));
printf("- the broker logged %d PUBLISH packets from the workers for %d publish() calls; the pool stopped gracefully (SIGQUIT) in %.2f s\n", $arrived, $published, $seconds);
exit($arrived >= $published ? 0 : 1);
