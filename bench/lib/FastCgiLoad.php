<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

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
