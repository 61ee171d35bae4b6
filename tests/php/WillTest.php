<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\ConfigException;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * The `will` option: the broker publishes it when a PHP process holding the
 * connection dies without disconnecting (SIGKILL), and not when the process
 * ends normally (script end, close(), exit()), which sends DISCONNECT.
 *
 * @group protocol
 */
final class WillTest extends MqttTestCase
{
    /** @return iterable<string, array{array<string,mixed>, string, string}> will option, expected payload, topic suffix */
    public static function wills(): iterable
    {
        yield 'QoS 1 with a payload' => [['topic' => 'status/offline', 'payload' => "gone \0 binary", 'qos' => 1], "gone \0 binary", 'status/offline'];
        yield 'defaults: QoS 0, empty payload' => [['topic' => 'status/offline'], '', 'status/offline'];
        yield 'QoS 2' => [['topic' => 'status/offline', 'payload' => 'gone', 'qos' => 2], 'gone', 'status/offline'];
    }

    /** @dataProvider wills */
    public function testWillIsPublishedWhenTheProcessIsKilled(array $will, string $payload, string $suffix): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen($prefix . '#');
        $options = $this->options(['prefix' => $prefix, 'will' => $will]);

        $holder = $this->startHolder($options);
        $this->assertWillRegistered($options['client_id']);
        $listener->sync();
        $this->assertSame([[$prefix . 'ready', 'up']], $listener->messages(), 'nothing but the ready message while the process lives');

        $holder->kill();

        $this->assertSame([[$prefix . 'ready', 'up'], [$prefix . $suffix, $payload]], $listener->waitFor(2), 'the will, under the prefix');
    }

    public function testRetainedWillReachesSubscribersThatComeLater(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $options = $this->options(['prefix' => $prefix, 'will' => ['topic' => 'lwt', 'payload' => 'offline', 'qos' => 1, 'retain' => true]]);

        $this->startHolder($options)->kill();
        $deadline = microtime(true) + 20.0;
        while (static::broker()->connectionEnds($options['client_id']) === []) {
            if (microtime(true) >= $deadline) {
                Failure::raise("the broker did not notice the killed process:\n" . Failure::tail(static::broker()->log()));
            }
            usleep(20_000);
        }

        $this->assertSame([[$prefix . 'lwt', 'offline']], $this->listen($prefix . 'lwt')->waitFor(1));
    }

    /** @return iterable<string, array{string, int}> how the script ends, its exit code */
    public static function normalEnds(): iterable
    {
        yield 'the script ends' => ['', 0];
        yield 'close()' => ['$client->close();', 0];
        yield 'exit(3)' => ['exit(3);', 3];
    }

    /** @dataProvider normalEnds */
    public function testWillIsNotPublishedWhenTheProcessEndsNormally(string $end, int $exitCode): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen($prefix . '#');
        $options = $this->options(['prefix' => $prefix, 'will' => ['topic' => 'status/offline', 'payload' => 'gone', 'qos' => 1]]);

        $result = PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'will-holder');
            $client->publishSync('ready', 'up', 1, null, 10.0);
            echo "connected\n";
            %s
            PHP, var_export($options, true), $end));

        $this->assertSame($exitCode, $result->exitCode, $result->describe());
        $this->assertSame("connected\n", $result->stdout, $result->describe());
        $this->assertWillRegistered($options['client_id']);
        $this->assertNotSame(
            [],
            static::broker()->disconnects($options['client_id']),
            "the process disconnected:\n" . Failure::tail(static::broker()->log())
        );
        $listener->sync();
        $this->assertSame([[$prefix . 'ready', 'up']], $listener->messages(), 'no will after a normal end');
    }

    /** @return iterable<string, array{mixed, string}> */
    public static function badWills(): iterable
    {
        yield 'not an array' => ['status/offline', 'will'];
        yield 'no topic' => [['payload' => 'gone'], 'will.topic'];
        yield 'empty topic' => [['topic' => ''], 'will.topic'];
        yield 'topic with +' => [['topic' => 'status/+'], 'will.topic'];
        yield 'topic with #' => [['topic' => 'status/#'], 'will.topic'];
        yield 'topic not a string' => [['topic' => ['status']], 'will.topic'];
        yield 'payload not a string' => [['topic' => 'status', 'payload' => ['gone']], 'will.payload'];
        yield 'QoS 3' => [['topic' => 'status', 'qos' => 3], 'will.qos'];
        yield 'QoS -1' => [['topic' => 'status', 'qos' => -1], 'will.qos'];
        yield 'QoS a word' => [['topic' => 'status', 'qos' => 'high'], 'will.qos'];
        yield 'retain a word' => [['topic' => 'status', 'retain' => 'maybe'], 'will.retain'];
        yield 'unknown key' => [['topic' => 'status', 'paylod' => 'gone'], 'payload'];
    }

    /** @dataProvider badWills */
    public function testBadWillThrowsConfigExceptionNamingIt(mixed $will, string $mention): void
    {
        try {
            $this->client($this->options(['will' => $will]));
            $this->fail('no ConfigException for will => ' . var_export($will, true));
        } catch (ConfigException $e) {
            $this->assertStringContainsString($mention, $e->getMessage());
        }
    }

    /**
     * A PHP child process holding a connection with a will: returns once it is
     * connected (its "ready" message was acknowledged), still running.
     */
    private function startHolder(array $options): BackgroundProcess
    {
        $dir = static::broker()->dir();
        $name = 'holder-' . bin2hex(random_bytes(4));
        file_put_contents("$dir/$name.php", sprintf(<<<'PHP'
            <?php
            $client = new Mqtt\Client(%s, 'will-holder');
            $client->publishSync('ready', 'up', 1, null, 10.0);
            echo "connected\n";
            while (true) {
                sleep(1);
            }
            PHP, var_export($options, true)));
        $holder = new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', "$dir/$name.php"],
            "$dir/$name.out",
            "$dir/$name.err",
            null,
            true
        );
        $deadline = microtime(true) + 20.0;
        while (trim((string) file_get_contents("$dir/$name.out")) !== 'connected') {
            if (!$holder->isRunning() || microtime(true) >= $deadline) {
                $holder->kill();
                Failure::raise("the will holder did not connect:\nstdout: " . file_get_contents("$dir/$name.out")
                    . "\nstderr: " . file_get_contents("$dir/$name.err") . "\nbroker log:\n" . Failure::tail(static::broker()->log()));
            }
            usleep(20_000);
        }
        return $holder;
    }

    /** The broker's log shows the client's CONNECT carried a will (so its absence later means something). */
    private function assertWillRegistered(string $clientId): void
    {
        $this->assertTrue(static::broker()->connectedWithWill($clientId), "client $clientId connected with a will:\n" . Failure::tail(static::broker()->log()));
    }
}
