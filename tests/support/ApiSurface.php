<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * The PHP API surface of an extension or of a stub file, as a tree of plain
 * values built from reflection, and the differences between two such trees.
 *
 * Keys read as what they name ("class Mqtt\Client", "method publish()",
 * "parameter #2"), so that a difference is reported as a path a person can
 * follow: `class Mqtt\Client > method publish() > parameter #2 > type: ...`.
 * Only what a class declares itself is described; what it inherits from a
 * parent outside the surface (\RuntimeException's methods) is the same on both sides.
 */
final class ApiSurface
{
    private const NONE = '(none)';

    /** Everything the loaded extension $name defines. */
    public static function ofExtension(string $name): array
    {
        $extension = new \ReflectionExtension($name);
        $functions = array_map(static fn (\ReflectionFunction $f) => $f->getName(), array_values($extension->getFunctions()));
        return self::describe($extension->getClassNames(), $functions, $extension->getConstants());
    }

    /**
     * Everything the PHP file declares, found by comparing what exists before and
     * after including it. Run it where the extension is not loaded (php -n).
     */
    public static function ofFile(string $file): array
    {
        $classes = self::declaredClassLikes();
        $functions = get_defined_functions()['user'];
        $constants = get_defined_constants(true)['user'] ?? [];

        (static function (string $file): void {
            require $file;
        })($file);

        $newConstants = array_diff_key(get_defined_constants(true)['user'] ?? [], $constants);
        $newFunctions = array_map(
            static fn (string $f) => (new \ReflectionFunction($f))->getName(),
            array_values(array_diff(get_defined_functions()['user'], $functions))
        );
        return self::describe(array_values(array_diff(self::declaredClassLikes(), $classes)), $newFunctions, $newConstants);
    }

    /**
     * One readable line per difference, empty when the two surfaces are equal.
     * Something present on one side only is reported once, not once per member.
     *
     * @return list<string>
     */
    public static function differences(array $expected, array $actual, string $expectedName = 'the extension', string $actualName = 'the stub'): array
    {
        $lines = [];
        self::compare([], $expected, $actual, $expectedName, $actualName, $lines);
        return $lines;
    }

    /**
     * @param list<string> $classes
     * @param list<string> $functions
     * @param array<string,mixed> $constants
     */
    private static function describe(array $classes, array $functions, array $constants): array
    {
        $surface = [];
        foreach ($classes as $class) {
            $reflection = new \ReflectionClass($class);
            $surface['class ' . $reflection->getName()] = self::describeClass($reflection);
        }
        foreach ($functions as $function) {
            $surface["function $function()"] = self::describeFunction(new \ReflectionFunction($function));
        }
        foreach ($constants as $name => $value) {
            $surface["constant $name"] = ['value' => self::export($value)];
        }
        ksort($surface);
        return $surface;
    }

    private static function describeClass(\ReflectionClass $class): array
    {
        $modifiers = array_keys(array_filter([
            'final' => $class->isFinal(),
            'abstract' => (bool) ($class->getModifiers() & \ReflectionClass::IS_EXPLICIT_ABSTRACT),
            'readonly' => method_exists($class, 'isReadOnly') && $class->isReadOnly(),
        ]));
        $kind = match (true) {
            $class->isInterface() => 'interface',
            $class->isTrait() => 'trait',
            $class->isEnum() => 'enum',
            default => 'class',
        };
        $interfaces = $class->getInterfaceNames();
        sort($interfaces);
        $description = [
            'declaration' => implode(' ', [...$modifiers, $kind]),
            'parent' => $class->getParentClass() ? $class->getParentClass()->getName() : self::NONE,
            'interfaces' => $interfaces === [] ? self::NONE : implode(', ', $interfaces),
        ];
        if ($class->isEnum()) {
            $backing = (new \ReflectionEnum($class->getName()))->getBackingType();
            $description['backing type'] = $backing === null ? self::NONE : (string) $backing;
        }
        foreach ($class->getReflectionConstants() as $constant) {
            if ($constant->getDeclaringClass()->getName() === $class->getName()) {
                $description['constant ' . $constant->getName()] = [
                    'visibility' => self::visibility($constant),
                    'final' => $constant->isFinal(),
                    'value' => self::export($constant->getValue()),
                ];
            }
        }
        foreach ($class->getProperties() as $property) {
            if ($property->getDeclaringClass()->getName() === $class->getName()) {
                $description['property $' . $property->getName()] = [
                    'visibility' => self::visibility($property),
                    'static' => $property->isStatic(),
                    'readonly' => $property->isReadOnly(),
                    'type' => self::type($property->getType()),
                    'nullable' => $property->getType()?->allowsNull() ?? true,
                    'default' => $property->hasDefaultValue() ? self::export($property->getDefaultValue()) : self::NONE,
                ];
            }
        }
        foreach ($class->getMethods() as $method) {
            if ($method->getDeclaringClass()->getName() === $class->getName()) {
                $description['method ' . $method->getName() . '()'] = [
                    'visibility' => self::visibility($method),
                    'static' => $method->isStatic(),
                    'final' => $method->isFinal(),
                    'abstract' => $method->isAbstract(),
                ] + self::describeFunction($method);
            }
        }
        return $description;
    }

    private static function describeFunction(\ReflectionFunctionAbstract $function): array
    {
        $description = [
            'returns by reference' => $function->returnsReference(),
            'return type' => self::type($function->getReturnType()),
            'tentative return type' => self::type($function->getTentativeReturnType()),
            'parameter count' => $function->getNumberOfParameters(),
        ];
        foreach ($function->getParameters() as $parameter) {
            $description['parameter #' . $parameter->getPosition()] = [
                'name' => '$' . $parameter->getName(),
                'type' => self::type($parameter->getType()),
                'nullable' => $parameter->allowsNull(),
                'optional' => $parameter->isOptional(),
                'default' => self::defaultValue($parameter),
                'by reference' => $parameter->isPassedByReference(),
                'variadic' => $parameter->isVariadic(),
            ];
        }
        return $description;
    }

    private static function defaultValue(\ReflectionParameter $parameter): string
    {
        if (!$parameter->isDefaultValueAvailable()) {
            return self::NONE;
        }
        try {
            return $parameter->isDefaultValueConstant()
                ? (string) $parameter->getDefaultValueConstantName()
                : self::export($parameter->getDefaultValue());
        } catch (\Throwable $e) {
            return 'unreadable default (' . $e->getMessage() . ')';
        }
    }

    /** The type as PHP spells it, with the members of a union or intersection in a stable order. */
    private static function type(?\ReflectionType $type): string
    {
        if ($type === null) {
            return self::NONE;
        }
        if ($type instanceof \ReflectionUnionType || $type instanceof \ReflectionIntersectionType) {
            $members = array_map(static fn (\ReflectionType $t) => self::type($t), $type->getTypes());
            sort($members);
            return implode($type instanceof \ReflectionUnionType ? '|' : '&', $members);
        }
        return (string) $type;
    }

    private static function visibility(\ReflectionClassConstant|\ReflectionProperty|\ReflectionMethod $member): string
    {
        return match (true) {
            $member->isPrivate() => 'private',
            $member->isProtected() => 'protected',
            default => 'public',
        };
    }

    private static function export(mixed $value): string
    {
        if ($value instanceof \UnitEnum) {
            return '\\' . $value::class . '::' . $value->name;
        }
        return var_export($value, true);
    }

    /** @return list<string> */
    private static function declaredClassLikes(): array
    {
        return array_merge(get_declared_classes(), get_declared_interfaces(), get_declared_traits());
    }

    /** @param list<string> $lines */
    private static function compare(array $path, array $expected, array $actual, string $expectedName, string $actualName, array &$lines): void
    {
        foreach (array_unique(array_merge(array_keys($expected), array_keys($actual))) as $key) {
            $at = implode(' > ', [...$path, $key]);
            if (!array_key_exists($key, $actual)) {
                $lines[] = "$at: $expectedName defines it, $actualName does not";
            } elseif (!array_key_exists($key, $expected)) {
                $lines[] = "$at: $actualName declares it, $expectedName does not";
            } elseif (is_array($expected[$key]) && is_array($actual[$key])) {
                self::compare([...$path, $key], $expected[$key], $actual[$key], $expectedName, $actualName, $lines);
            } elseif ($expected[$key] !== $actual[$key]) {
                $lines[] = sprintf('%s: %s has %s, %s has %s', $at, $expectedName, self::show($expected[$key]), $actualName, self::show($actual[$key]));
            }
        }
    }

    private static function show(mixed $value): string
    {
        return is_bool($value) ? var_export($value, true) : (string) $value;
    }
}
