<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use Mqtt\MqttException;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpScript;

/** Bad options throw ConfigException naming the option, bad arguments throw \ValueError naming the argument. */
final class ValidationTest extends MqttTestCase
{
    private const SECRET = 'S3cret-Pa55word-never-shown';

    /** @return iterable<string, array{0: array, 1: list<string>}> options => strings the message must contain */
    public static function badOptions(): iterable
    {
        yield 'unknown key hots' => [['hots' => 'localhost'], ['hots', 'did you mean', 'host']];
        yield 'unknown key keepalive' => [['keepalive' => 10], ['keepalive', 'keep_alive']];
        yield 'unknown key without near miss' => [['banana' => 1], ['banana']];
        yield 'unknown reconnect key' => [['reconnect' => ['max_retry' => 1]], ['max_retry', 'max_retries']];

        yield 'host array' => [['host' => ['localhost']], ['host']];
        yield 'host empty' => [['host' => ''], ['host']];
        yield 'port string' => [['port' => 'abc'], ['port']];
        yield 'port array' => [['port' => [1883]], ['port']];
        yield 'port bool' => [['port' => true], ['port']];
        yield 'port 0' => [['port' => 0], ['port']];
        yield 'port negative' => [['port' => -1], ['port']];
        yield 'port 65536' => [['port' => 65536], ['port']];
        yield 'port fraction' => [['port' => 1883.5], ['port']];
        yield 'client_id array' => [['client_id' => ['x']], ['client_id']];
        yield 'username array' => [['username' => ['x']], ['username']];
        yield 'password array' => [['username' => 'u', 'password' => ['x']], ['password']];
        yield 'keep_alive string' => [['keep_alive' => 'often'], ['keep_alive']];
        yield 'keep_alive negative' => [['keep_alive' => -1], ['keep_alive']];
        yield 'connect_timeout string' => [['connect_timeout' => 'soon'], ['connect_timeout']];
        yield 'connect_timeout negative' => [['connect_timeout' => -1], ['connect_timeout']];
        yield 'clean_session string' => [['clean_session' => 'maybe'], ['clean_session']];
        yield 'clean_session array' => [['clean_session' => [true]], ['clean_session']];
        yield 'prefix array' => [['prefix' => ['a/']], ['prefix']];
        yield 'prefix with +' => [['prefix' => 'a/+/'], ['prefix']];
        yield 'prefix with #' => [['prefix' => 'a/#'], ['prefix']];
        yield 'qos string' => [['qos' => 'high'], ['qos']];
        yield 'qos 3' => [['qos' => 3], ['qos']];
        yield 'qos -1' => [['qos' => -1], ['qos']];
        yield 'retain string' => [['retain' => 'yes please'], ['retain']];
        yield 'retain array' => [['retain' => [true]], ['retain']];
        yield 'max_queue string' => [['max_queue' => 'lots'], ['max_queue']];
        yield 'max_queue negative' => [['max_queue' => -5], ['max_queue']];
        yield 'max_packet_size string' => [['max_packet_size' => 'big'], ['max_packet_size']];
        yield 'max_packet_size negative' => [['max_packet_size' => -1], ['max_packet_size']];
        yield 'flush_timeout string' => [['flush_timeout' => 'later'], ['flush_timeout']];
        yield 'flush_timeout negative' => [['flush_timeout' => -1], ['flush_timeout']];
        yield 'reconnect string' => [['reconnect' => 'fast'], ['reconnect']];
        yield 'reconnect.initial_delay string' => [['reconnect' => ['initial_delay' => 'x']], ['reconnect.initial_delay']];
        yield 'reconnect.initial_delay negative' => [['reconnect' => ['initial_delay' => -1]], ['reconnect.initial_delay']];
        yield 'reconnect.max_delay array' => [['reconnect' => ['max_delay' => [1]]], ['reconnect.max_delay']];
        yield 'reconnect.max_retries string' => [['reconnect' => ['max_retries' => 'many']], ['reconnect.max_retries']];
        yield 'reconnect.max_retries negative' => [['reconnect' => ['max_retries' => -1]], ['reconnect.max_retries']];
        yield 'reconnect.max_delay below initial_delay' => [['reconnect' => ['initial_delay' => 2, 'max_delay' => 1]], ['reconnect.max_delay']];
        yield 'password without username' => [['password' => self::SECRET], ['password', 'username']];
    }

    /** @dataProvider badOptions */
    public function testBadOptionThrowsConfigExceptionNamingIt(array $options, array $mentions): void
    {
        try {
            new Client(array_replace(['host' => '127.0.0.1', 'port' => 1883], $options), 'bad-' . $this->uniq());
            $this->fail('no ConfigException for ' . json_encode($options));
        } catch (ConfigException $e) {
            foreach ($mentions as $mention) {
                $this->assertStringContainsString($mention, $e->getMessage());
            }
            $this->assertStringNotContainsString(self::SECRET, $e->getMessage());
        }
        $this->assertArrayNotHasKey('bad-' . $this->uniq(), Client::connections(), 'a rejected config leaves no connection behind');
    }

    public function testEmptyConnectionNameThrowsValueError(): void
    {
        try {
            new Client($this->options(), '');
            $this->fail('no ValueError for an empty name');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('name', $e->getMessage());
        }
    }

    public function testConfigExceptionIsAnMqttException(): void
    {
        $this->expectException(MqttException::class);
        new Client(['hots' => 'x']);
    }

    public function testNumericStringsAreAccepted(): void
    {
        $topic = $this->topic('numeric-strings');
        $listener = $this->listen($topic);
        $client = $this->client([
            'host' => $this->broker()->host(),
            'port' => (string) $this->broker()->port(),
            'keep_alive' => '30',
            'connect_timeout' => '2.5',
            'qos' => '1',
            'max_queue' => '100',
            'max_packet_size' => '65536',
            'flush_timeout' => '0.5',
            'retain' => 'false',
            'clean_session' => '1',
            'reconnect' => ['initial_delay' => '0.1', 'max_delay' => '1.5', 'max_retries' => '0'],
        ]);
        $client->publishSync($topic, 'numeric strings work');

        $this->assertSame([[$topic, 'numeric strings work']], $listener->waitFor(1));
        $this->assertSame($this->broker()->port(), $client->status()['port']);
        $this->assertSame(1, $client->status()['acknowledged'], 'the qos option "1" made it a QoS 1 publish');
    }

    public function testFloatsAreAcceptedForIntegerOptionsWhenWhole(): void
    {
        $client = $this->client($this->options(['port' => (float) $this->broker()->port(), 'qos' => 1.0]));
        $this->assertSame($this->broker()->port(), $client->status()['port']);
    }

    public function testPasswordNeverAppearsInMessagesOrStatus(): void
    {
        $credentials = ['username' => 'alice', 'password' => self::SECRET];
        try {
            new Client(array_replace($this->options($credentials), ['port' => 'not a port']));
            $this->fail('no ConfigException for port "not a port"');
        } catch (ConfigException $e) {
            $this->assertStringNotContainsString(self::SECRET, $e->getMessage());
        }

        // mosquitto here allows anonymous clients and ignores the credentials.
        $client = $this->client($this->options($credentials), 'secret-' . $this->uniq());
        $client->publishSync($this->topic('secret'), 'authenticated', 1);
        $this->assertStringNotContainsString(self::SECRET, json_encode($client->status()));
        $this->assertStringNotContainsString(self::SECRET, json_encode(Client::connections()));
        $this->assertStringNotContainsString(self::SECRET, print_r($client, true));
        $this->assertStringNotContainsString(self::SECRET, var_export($client, true));

        $failing = $this->client($this->options($credentials + [
            'port' => Broker::freePort(),
            'flush_timeout' => 0.2,
            'reconnect' => ['initial_delay' => 0.05, 'max_delay' => 0.1, 'max_retries' => 1],
        ]));
        try {
            $failing->publishSync($this->topic('secret'), 'never', 1, null, 10.0);
            $this->fail('publishSync() to a closed port returned');
        } catch (MqttException $e) {
            $this->assertStringNotContainsString(self::SECRET, $e->getMessage());
        }
        $this->assertStringNotContainsString(self::SECRET, json_encode($failing->status()));
    }

    /** @return iterable<string, array{0: callable(Client, string): void, 1: string}> call => word the message names */
    public static function badArguments(): iterable
    {
        yield 'empty topic' => [fn (Client $c, string $t) => $c->publish('', 'x'), 'topic'];
        yield 'topic with +' => [fn (Client $c, string $t) => $c->publish("$t/+/x", 'x'), 'topic'];
        yield 'topic with #' => [fn (Client $c, string $t) => $c->publish("$t/#", 'x'), 'topic'];
        yield 'topic with NUL' => [fn (Client $c, string $t) => $c->publish("$t/a\0b", 'x'), 'topic'];
        yield 'topic of 65536 bytes' => [fn (Client $c, string $t) => $c->publish(str_repeat('a', 65536), 'x'), 'topic'];
        yield 'qos 3' => [fn (Client $c, string $t) => $c->publish($t, 'x', 3), 'qos'];
        yield 'qos -1' => [fn (Client $c, string $t) => $c->publish($t, 'x', -1), 'qos'];
        yield 'sync empty topic' => [fn (Client $c, string $t) => $c->publishSync('', 'x'), 'topic'];
        yield 'sync topic with +' => [fn (Client $c, string $t) => $c->publishSync("$t/+", 'x'), 'topic'];
        yield 'sync topic with #' => [fn (Client $c, string $t) => $c->publishSync('#', 'x'), 'topic'];
        yield 'sync topic with NUL' => [fn (Client $c, string $t) => $c->publishSync("\0", 'x'), 'topic'];
        yield 'sync topic of 65536 bytes' => [fn (Client $c, string $t) => $c->publishSync(str_repeat('b', 65536), 'x'), 'topic'];
        yield 'sync qos 3' => [fn (Client $c, string $t) => $c->publishSync($t, 'x', 3), 'qos'];
        yield 'sync qos -1' => [fn (Client $c, string $t) => $c->publishSync($t, 'x', -1), 'qos'];
        yield 'sync negative timeout' => [fn (Client $c, string $t) => $c->publishSync($t, 'x', 1, false, -1.0), 'timeout'];
        yield 'flush negative timeout' => [fn (Client $c, string $t) => $c->flush(-0.5), 'timeout'];
    }

    /** @dataProvider badArguments */
    public function testBadArgumentThrowsValueErrorNamingIt(callable $call, string $argument): void
    {
        $topic = $this->topic('arguments');
        $listener = $this->listen($this->topic('#'));
        $client = $this->client($this->options());
        try {
            $call($client, $topic);
            $this->fail('no ValueError');
        } catch (\ValueError $e) {
            $this->assertStringContainsString($argument, $e->getMessage());
        }
        $listener->sync();
        $this->assertSame([], $listener->messages(), 'nothing was published');
        $this->assertSame(0, $client->status()['published']);
        $this->assertSame(0, $client->status()['queued']);
    }

    public function testPrefixCountsTowardsTheTopicLimit(): void
    {
        $client = $this->client($this->options(['prefix' => str_repeat('p', 65000)]));
        try {
            $client->publish(str_repeat('t', 600), 'x');
            $this->fail('no ValueError for a 65600-byte prefixed topic');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('topic', $e->getMessage());
        }
        $this->assertSame(0, $client->status()['queued']);
    }

    public function testTopicOfExactly65535BytesIsAccepted(): void
    {
        $topic = $this->topic('long/');
        $topic .= str_repeat('x', 65535 - strlen($topic));
        $listener = $this->listen($this->topic('#'));
        $client = $this->client($this->options());

        $client->publishSync($topic, 'longest topic', 1);

        $this->assertSame([[$topic, 'longest topic']], $listener->waitFor(1));
    }

    /** @return iterable<string, array{0: string, 1: int}> protocol => bytes of its PUBLISH beyond topic and payload */
    public static function protocols(): iterable
    {
        // 1 byte header + 2 bytes remaining length + 2 bytes topic length + 2 bytes packet id,
        yield 'MQTT 3.1.1' => ['3.1.1', 7];
        // + 1 byte of (empty) properties length.
        yield 'MQTT 5' => ['5', 8];
    }

    /**
     * A packet larger than max_packet_size would never be written (and would break
     * the connection on every attempt): one byte over is a ValueError, the largest
     * that fits goes through.
     *
     * @dataProvider protocols
     */
    public function testMessageLargerThanMaxPacketSizeIsRefusedAndTheLargestThatFitsIsDelivered(string $protocol, int $overhead): void
    {
        $topic = $this->topic('packet-size');
        $listener = $this->listen($topic);
        $client = $this->client($this->options(['max_packet_size' => 1024, 'protocol' => $protocol]));
        $fits = str_repeat('x', 1024 - $overhead - strlen($topic));

        try {
            $client->publish($topic, $fits . 'y', 1);
            $this->fail('no ValueError for a packet one byte over max_packet_size');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('$payload', $e->getMessage());
            $this->assertStringContainsString('max_packet_size', $e->getMessage());
            $this->assertStringContainsString('1025 bytes', $e->getMessage());
        }
        $this->assertSame(0, $client->status()['queued']);

        $client->publishSync($topic, $fits, 1, false, 5.0);
        $this->assertSame([[$topic, $fits]], $listener->waitFor(1));
        $this->assertSame(0, $client->status()['reconnects']);
    }

    /** Options rumqttc would panic on must be rejected or handled: the process survives either way. */
    public function testExtremeOptionsNeverCrashTheProcess(): void
    {
        $code = sprintf(<<<'PHP'
            $base = ['host' => '127.0.0.1', 'port' => %d, 'flush_timeout' => 1];
            $cases = [
                ['keep_alive' => 0], ['keep_alive' => 1], ['keep_alive' => 0.5], ['keep_alive' => 65535],
                ['connect_timeout' => 0], ['flush_timeout' => 0], ['max_packet_size' => 1],
                ['max_queue' => 0], ['max_queue' => PHP_INT_MAX], ['client_id' => ''], ['client_id' => str_repeat('c', 70000)],
                ['reconnect' => ['initial_delay' => 0, 'max_delay' => 0]], ['reconnect' => ['max_retries' => PHP_INT_MAX]],
                ['connect_timeout' => 1e300], ['flush_timeout' => INF], ['flush_timeout' => NAN], ['port' => '1883abc'],
            ];
            foreach ($cases as $i => $case) {
                try {
                    $client = new Mqtt\Client($case + $base, "extreme-$i");
                    $client->publish('test/extreme', 'x', 1);
                    $client->flush(1.0);
                    $client->close();
                    echo "$i accepted\n";
                } catch (Mqtt\ConfigException $e) {
                    echo "$i rejected: ", $e->getMessage(), "\n";
                } catch (Mqtt\MqttException $e) {
                    echo "$i accepted then ", get_class($e), ": ", $e->getMessage(), "\n";
                }
            }
            echo "survived\n";
            PHP, $this->broker()->port());

        $result = PhpScript::run($code, [], 90.0);

        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertStringEndsWith("survived\n", $result->stdout, $result->describe());
        $this->assertStringNotContainsString('panic', $result->stderr, $result->describe());
    }
}
